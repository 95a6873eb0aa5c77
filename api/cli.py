"""The ``vigil`` command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from api.settings import Settings, load_settings
from services.api_keys import ApiKeyService
from services.errors import ConfigurationError, DomainError, ValidationFailed
from services.events.replicated import ReplicatedEventBus
from services.integrations.models import Purpose
from services.models import Principal, Role
from services.organizations import OrganizationService
from services.store import Store

if TYPE_CHECKING:
    from api.container import Container
    from services.evidence.service import EvidenceService

app = typer.Typer(
    help="Vigil: continuous compliance evidence from Confluence Cloud.", no_args_is_help=True
)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
evidence_app = typer.Typer(help="The evidence chain.", no_args_is_help=True)
user_app = typer.Typer(help="People who sign in.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
audit_app = typer.Typer(help="The auditor's package.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
app.add_typer(audit_app, name="audit")

T = TypeVar("T")

#: The ``--org`` option of the commands that act for one organization.
Org = Annotated[str, typer.Option("--org", help="Organization id.")]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (0 picks a free one).")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run the worker.")] = False,
) -> None:
    """Run the API (GraphQL at /graphql) with an in-process worker."""
    from api.serve import serve as run

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if no_worker:
        overrides["run_worker"] = False
    with _configuration_errors():
        asyncio.run(run(load_settings(**overrides)))


@app.command()
def worker() -> None:
    """Run the background worker only (scheduled syncs and periodic jobs)."""
    from api.worker import run_worker

    settings = _settings(run_worker=True)
    _database_url(
        settings,
        "This command needs VIGIL_MONGODB_URL (the database `vigil serve` uses): a worker "
        "on its own embedded store would sync nothing anyone sees.",
    )
    with _configuration_errors():
        asyncio.run(run_worker(settings))


@app.command()
def simulator(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8090,
    users: Annotated[int, typer.Option(help="Generated users.")] = 200,
    groups: Annotated[int, typer.Option(help="Generated groups.")] = 20,
    pages: Annotated[int, typer.Option(help="Generated pages.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same site.")] = 1,
    sites: Annotated[str, typer.Option(help="Comma-separated site names.")] = "acme",
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(help="Random extra latency.")] = 0.0,
    fault_429: Annotated[float, typer.Option(help="Share of 429 responses.")] = 0.0,
    fault_503: Annotated[float, typer.Option(help="Share of 503 responses.")] = 0.0,
    fault_drop: Annotated[float, typer.Option(help="Share of dropped connections.")] = 0.0,
    fault_truncate: Annotated[float, typer.Option(help="Share of truncated bodies.")] = 0.0,
    quota_points: Annotated[
        int | None, typer.Option(help="Hourly points quota per tenant (off by default).")
    ] = None,
    site_json: Annotated[str | None, typer.Option(help="Load the site from a JSON file.")] = None,
) -> None:
    """Run the Confluence Cloud simulator (for demos, tests and benchmarks)."""
    from simulator.cli import simulator_command

    simulator_command(**ctx.params)  # the options above, by name


@app.command()
def demo(
    port: Annotated[
        int, typer.Option(envvar="VIGIL_PORT", help="API port (0 picks a free one).")
    ] = 8000,
    host: Annotated[str, typer.Option(envvar="VIGIL_HOST", help="Interface to bind.")] = (
        "127.0.0.1"
    ),
) -> None:
    """Simulator + API + a seeded organization with a few failing checks to explore."""
    from api.demo import DemoError, run_demo

    try:
        with _configuration_errors():
            asyncio.run(run_demo(port=port, host=host))
    except DemoError as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass


@app.command()
def schema() -> None:
    """Print the GraphQL schema (SDL), as committed in schema.graphql."""
    from resolvers.schema import export_sdl

    typer.echo(export_sdl(), nl=False)


@app.command()
def sync(
    org: Org,
    purpose: Annotated[Purpose, typer.Option("--purpose", help="ACCESS_REVIEW or POLICY.")],
) -> None:
    """Run one sync of the organization's integration now, with a progress bar."""
    from rich.console import Console

    from api.sync_cli import run_cli_sync

    settings = _settings(run_worker=False)
    _database_url(settings, _WORKER_DATABASE)

    async def go(container: Container) -> int:
        return await run_cli_sync(container, org, purpose, Console())

    _run_with_container(settings, go)


@app.command()
def watch(org: Org) -> None:
    """Show the change watch of the organization's ACCESS_REVIEW integration (events read,
    refreshes, what was ignored and why, or why it is off)."""
    from rich.console import Console

    from api.watch_cli import show_watch

    async def go(store: Store, settings: Settings) -> int:
        return await show_watch(store, org, Console(), enabled=settings.change_watch)

    raise typer.Exit(_run_with_store(go))


@app.command()
def remediate(
    org: Org,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show the plan; call nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm without asking.")] = False,
) -> None:
    """Show the remediation plan as a table; unless --dry-run, confirm and carry it out."""
    from rich.console import Console

    from api.remediation_cli import run_cli_remediation

    settings = _settings(run_worker=False)
    _database_url(settings, _WORKER_DATABASE)

    def confirm(question: str) -> bool:
        return yes or typer.confirm(question, default=False)

    async def go(container: Container) -> int:
        console = Console()
        return await run_cli_remediation(
            container, org, dry_run=dry_run, console=console, confirm=confirm
        )

    _run_with_container(settings, go)


@org_app.command("create")
def org_create(name: str) -> None:
    """Create an organization and print its first ADMIN key once."""

    async def go(_: ApiKeyService, organizations: OrganizationService) -> None:
        org, created = await organizations.create_organization(name)
        typer.echo(f"organization id: {org.id}")
        typer.echo(f"ADMIN API key (shown once): {created.secret}")

    _run_with_keys(go)


@apikey_app.command("create")
def apikey_create(
    org: Org,
    role: Annotated[Role, typer.Option("--role", help="ADMIN, REVIEWER or VIEWER.")],
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "",
) -> None:
    """Create an API key for an organization and print it once."""

    async def go(api_keys: ApiKeyService, _: OrganizationService) -> None:
        created = await api_keys.create_api_key_for(org, role, name)
        typer.echo(f"API key id: {created.key.id}")
        typer.echo(f"{role.value} API key (shown once): {created.secret}")

    _run_with_keys(go)


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Revoke an API key by id."""

    async def go(api_keys: ApiKeyService, _: OrganizationService) -> None:
        key = await api_keys.revoke_api_key_by_id(key_id)
        typer.echo(f"revoked {key.id} ({key.role.value}, organization {key.organization_id})")

    _run_with_keys(go)


@user_app.command("add")
def user_add(
    org: Org,
    email: Annotated[str, typer.Option("--email", help="The address the person signs in with.")],
    role: Annotated[Role, typer.Option("--role", help="ADMIN, REVIEWER or VIEWER.")],
) -> None:
    """Make an email address a member now (e.g. the first ADMIN): it signs in as itself."""

    async def go(store: Store, settings: Settings) -> int:
        from api.container import Container

        container = Container.build(settings, store)
        try:
            member = await container.services.members.add_by_email(org, email, role)
        finally:
            await container.http.aclose()
        typer.echo(
            f"{member.user.email} is {member.membership.role.value} of organization {org} "
            f"(user id {member.user.id}); they sign in with Atlassian or OpenID Connect"
        )
        return 0

    raise typer.Exit(_run_with_store(go))


@evidence_app.command("checkpoint")
def evidence_checkpoint(org: Org) -> None:
    """Print a signed checkpoint of the organization's chain head (keep it outside Vigil)."""

    async def go(evidence: EvidenceService) -> int:
        point = await evidence.checkpoint(org)
        if point is None:
            typer.echo("the organization has no evidence yet", err=True)
            return 1
        typer.echo(json.dumps(point, sort_keys=True))
        return 0

    _run_with_evidence(go)


@evidence_app.command("verify")
def evidence_verify(
    org: Org,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A checkpoint file to hold the chain to.")
    ] = None,
) -> None:
    """Verify the organization's chain (and a saved checkpoint); exit 1 when broken."""

    async def go(evidence: EvidenceService) -> int:
        point = json.loads(checkpoint.read_text()) if checkpoint is not None else None
        if point is not None and not isinstance(point, dict):
            raise ValidationFailed("not a Vigil evidence checkpoint")
        principal = Principal(organization_id=org, role=Role.VIEWER, api_key_id="cli")
        status = await evidence.verify(principal, point)
        if status.broken is None:
            typer.echo(f"valid: {status.checked_count} records, head #{status.head_sequence}")
            for line in await evidence.actors_summary(principal):
                typer.echo(f"  acted: {line}")
            return 0
        broken = status.broken
        typer.echo(f"BROKEN at #{broken.sequence}: {broken.problem.value}: {broken.message}")
        return 1

    _run_with_evidence(go)


@evidence_app.command("public-key")
def evidence_public_key(
    org: Org,
    all_keys: Annotated[
        bool, typer.Option("--all", help="Every key it signed with (retired ones too).")
    ] = False,
) -> None:
    """Print the organization's evidence signing public key (PEM), to hand to an auditor."""

    async def go(evidence: EvidenceService) -> int:
        signer = evidence.signer
        assert signer is not None
        if not all_keys:
            typer.echo((await signer.public_pem(org)).rstrip("\n"))
            return 0
        for key in await signer.public_keys(org):
            state = f"retired {key.retired_at.isoformat()}" if key.retired_at else "current"
            typer.echo(f"# key {key.key_id} ({state})")
            typer.echo(key.pem.rstrip("\n"))
        return 0

    _run_with_evidence(go)


@evidence_app.command("rotate-key")
def evidence_rotate_key(org: Org) -> None:
    """Give the organization a new evidence signing key (the old public key is kept)."""

    async def go(evidence: EvidenceService) -> int:
        signer = evidence.signer
        assert signer is not None
        key = await signer.rotate(org)
        typer.echo(f"new signing key {key.key_id}")
        typer.echo(key.pem.rstrip("\n"))
        return 0

    _run_with_evidence(go)


@audit_app.command("export")
def audit_export(
    org: Org,
    period_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
    period_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC).")],
    out: Annotated[Path, typer.Option("--out", help="The package to write (.zip).")],
) -> None:
    """Write the organization's signed audit package for a period (verify_bundle.py checks
    it offline with the key of `vigil evidence public-key`)."""

    async def go(store: Store, settings: Settings) -> int:
        from api.container import build_audit, build_evidence
        from services.audit.package import parse_period

        period = parse_period(period_from, period_to)
        packages = build_audit(build_evidence(settings, store), store)
        principal = Principal(organization_id=org, role=Role.ADMIN, api_key_id="cli")
        partial = out.with_name(out.name + ".partial")
        try:
            with partial.open("wb") as file:
                manifest = await packages.write(principal, period, file)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
        evidence = manifest["evidence"]
        typer.echo(
            f"wrote {out}: {len(manifest['files'])} files, {evidence['records']} evidence "
            f"records, signed by key {manifest['signature']['keyId']}"
        )
        return 0

    raise typer.Exit(_run_with_store(go))


_WORKER_DATABASE = "This command needs VIGIL_MONGODB_URL (the database the worker uses)."


@contextmanager
def _configuration_errors() -> Iterator[None]:
    """A configuration error ends the command: its message, exit code 2."""
    try:
        yield
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _settings(**overrides: object) -> Settings:
    """The settings (a configuration error ends the command)."""
    with _configuration_errors():
        return load_settings(**overrides)


def _database_url(settings: Settings, missing: str) -> str:
    """The MongoDB URL; without one the command ends with ``missing`` (exit code 2)."""
    url = settings.mongodb_url_value()
    if not url:
        typer.echo(missing, err=True)
        raise typer.Exit(2)
    return url


async def _in_store(url: str, settings: Settings, action: Callable[[Store], Awaitable[T]]) -> T:
    """``action`` on the database at ``url`` (indexes ensured), closed afterwards."""
    store = Store.open(url, settings.mongodb_db)
    try:
        await store.ensure_indexes()
        return await action(store)
    finally:
        store.close()


def _run_with_container(
    settings: Settings, action: Callable[[Container], Awaitable[int]]
) -> NoReturn:
    """``action`` on a started container; its answer is the exit code."""
    from api.container import Container

    async def go() -> int:
        container = Container.build(settings)
        try:
            await container.start()
            return await action(container)
        finally:
            await container.stop()

    with _configuration_errors():
        code = asyncio.run(go())
    raise typer.Exit(code)


def _run_with_store(action: Callable[[Store, Settings], Awaitable[int]]) -> int:
    settings = _settings()
    url = _database_url(settings, "This command needs VIGIL_MONGODB_URL.")

    async def go(store: Store) -> int:
        return await action(store, settings)

    try:
        return asyncio.run(_in_store(url, settings, go))
    except (ConfigurationError, DomainError, ValueError) as exc:
        typer.echo(f"error: {getattr(exc, 'message', exc)}", err=True)
        return 2


def _run_with_evidence(action: Callable[[EvidenceService], Awaitable[int]]) -> NoReturn:
    """``action`` on the evidence of the database; its answer is the exit code."""

    async def go(store: Store, settings: Settings) -> int:
        from api.container import build_evidence

        return await action(build_evidence(settings, store))

    raise typer.Exit(_run_with_store(go))


def _run_with_keys(
    action: Callable[[ApiKeyService, OrganizationService], Awaitable[None]],
) -> None:
    settings = _settings()
    url = _database_url(
        settings,
        "This command needs VIGIL_MONGODB_URL: the embedded store lives inside "
        "`vigil serve`, which prints its own first ADMIN key.",
    )

    async def go(store: Store) -> None:
        # The shared bus: a revocation reaches every API process on the database, which
        # closes the key's sockets at once (publishing needs no follower of our own).
        keys = ApiKeyService(
            ReplicatedEventBus(store.events),
            organizations=store.organizations,
            api_keys=store.api_keys,
        )
        await action(keys, OrganizationService(keys, organizations=store.organizations))

    try:
        asyncio.run(_in_store(url, settings, go))
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
