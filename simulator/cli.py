"""`vigil simulator`: build a simulator from flags, print its URLs and credentials, serve."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from simulator.control_cli import main as control_main
from simulator.core import Simulator
from simulator.faults import FaultConfig
from simulator.generate import ACCESS_MODELS, generate_site
from simulator.server import serve
from simulator.site import load_sites


def build_simulator(
    *,
    users: int = 200,
    groups: int = 20,
    pages: int = 60,
    seed: int = 1,
    site_names: tuple[str, ...] = ("acme",),
    site_json: str | None = None,
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    fault_429: float = 0.0,
    fault_503: float = 0.0,
    fault_drop: float = 0.0,
    fault_truncate: float = 0.0,
    quota_points: int | None = None,
    access: str = "groups",
) -> Simulator:
    """A simulator over a generated site (or the sites in `site_json`) with these faults."""
    if site_json:
        sites = load_sites(site_json)
    else:
        domain = f"{site_names[0]}.example"
        sites = [
            generate_site(users, groups, pages, seed, name=n, domain=domain, access=access)
            for n in site_names
        ]
    faults = FaultConfig(
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        rate_429=fault_429,
        rate_503=fault_503,
        rate_drop=fault_drop,
        rate_truncate=fault_truncate,
        quota_limit=quota_points,
    )
    return Simulator(sites, seed=seed, faults=faults)


def banner(sim: Simulator, base_url: str) -> str:
    """What the CLI prints at start: URLs, sites and the (fake) credentials accepted."""
    creds = sim.credentials
    lines = [
        f"Vigil Confluence Cloud simulator (seed {sim.seed}) - fake credentials, tests/demos only",
        f"  base URL                      {base_url}",
        f"  auth.atlassian.com            {base_url}/auth",
        f"  api.atlassian.com             {base_url}/api",
    ]
    for site in sim.sites.values():
        lines += [
            f"  site {site.name:<25}{base_url}/site/{site.name}  (cloudId {site.cloud_id})",
            f"    via OAuth                   {base_url}/api/ex/confluence/{site.cloud_id}",
            f"    data                        {len(site.accounts)} accounts, "
            f"{len(site.groups)} groups, {len(site.spaces)} spaces, {len(site.pages)} pages",
        ]
    site = sim.site
    for token in creds.api_tokens:
        account = site.account_by_email(token.email)
        admin = bool(account and site.is_admin(account.account_id))
        kind = "scoped, gateway only" if token.scoped else "classic"
        lines.append(
            f"  API token ({token.role}, {kind}, Confluence admin: {'yes' if admin else 'no'})"
        )
        lines.append(f"    email {token.email}  token {token.token}")
    width = max(30, *(len(label) + 2 for label, _ in creds.describe()))
    lines += [f"  {label:<{width}}{value}" for label, value in creds.describe()]
    cfg = sim.faults.config
    lines.append(
        f"  faults                        latency {cfg.latency_ms}±{cfg.jitter_ms} ms, "
        f"429 {cfg.rate_429}, 503 {cfg.rate_503}, drop {cfg.rate_drop}, "
        f"truncate {cfg.rate_truncate}, quota {cfg.quota_limit or 'off'}"
    )
    lines.append(
        f"  control                       {base_url}/_simulator  "
        f"(python -m simulator control --url {base_url} …)"
    )
    lines.append(
        f"  for Vigil: VIGIL_ATLASSIAN_AUTH_URL={base_url}/auth "
        f"VIGIL_ATLASSIAN_API_URL={base_url}/api VIGIL_OAUTH_CLIENT_ID={creds.oauth_client_id} "
        f"VIGIL_OAUTH_CLIENT_SECRET={creds.oauth_client_secret} VIGIL_ALLOW_INSECURE_URLS=true"
    )
    return "\n".join(lines)


def simulator_command(
    *,
    host: str = "127.0.0.1",
    port: int = 8090,
    sites: str = "acme",
    log_level: str = "info",
    echo: Callable[[str], Any] | None = None,
    **site_and_faults: Any,
) -> None:
    """Build the simulator, print its base URL and credentials, serve until interrupted.

    `sites` is a comma-separated list of site names to generate (several = multi-site); the
    other keywords are build_simulator's (every caller passes flags parsed by name).
    """
    sim = build_simulator(
        site_names=tuple(n.strip() for n in sites.split(",") if n.strip()) or ("acme",),
        **site_and_faults,
    )
    show = echo or (lambda text: print(text, flush=True))
    serve(
        sim, host=host, port=port, log_level=log_level, on_ready=lambda url: show(banner(sim, url))
    )


def parse_args(argv: list[str] | None = None) -> dict[str, Any]:
    """Flags of `python -m simulator` as simulator_command keyword arguments."""
    parser = argparse.ArgumentParser(prog="simulator", description=simulator_command.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--fault-429", type=float, default=0.0)
    parser.add_argument("--fault-503", type=float, default=0.0)
    parser.add_argument("--fault-drop", type=float, default=0.0)
    parser.add_argument("--fault-truncate", type=float, default=0.0)
    parser.add_argument("--site-json", default=None)
    parser.add_argument("--sites", default="acme")
    parser.add_argument("--quota-points", type=int, default=None)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--access", choices=ACCESS_MODELS, default="groups")
    return vars(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> None:
    """`python -m simulator [flags]`: the same flags as `vigil simulator`;
    `python -m simulator control --url URL COMMAND …` drives a running one."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["control"]:
        control_main(args[1:])
        return
    simulator_command(**parse_args(args))
