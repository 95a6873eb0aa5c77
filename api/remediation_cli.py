"""``vigil remediate``: show the remediation plan as a table and, once confirmed, carry it out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from api.container import Container
from services.errors import DomainError
from services.models import Principal, Role
from services.remediation.models import ActionState, RemediationAction

CLI_APPROVER = "cli:operator"  # recorded as approvedBy: the operator with database access

_STYLE = {
    ActionState.VERIFIED: "green",
    ActionState.DONE: "cyan",
    ActionState.CALLING: "cyan",
    ActionState.PENDING: "yellow",
    ActionState.FAILED: "red",
    ActionState.CANCELLED: "magenta",
}
_RUNNING = (ActionState.PENDING, ActionState.CALLING, ActionState.DONE, ActionState.VERIFIED)


def action_table(title: str, actions: Sequence[RemediationAction]) -> Table:
    """One row per action: account, what changes, why, and whether/how it ran."""
    table = Table(title=title, show_lines=False)
    for column in ("action", "account", "change", "source", "reason", "state"):
        table.add_column(column, overflow="fold")
    for a in actions:
        source = a.source.check_id or f"review {a.source.review_id} ({a.source.decision})"
        if a.source.action_id:
            source = f"undo {a.source.action_id}"
        change = a.kind.value + (f" {a.group_name}" if a.group_name else "")
        if a.role:
            change += f" {a.role}"
        if a.state is not None:
            style = _STYLE.get(a.state, "")
            why = a.error or a.cancel_reason
            state = f"[{style}]{a.state.value}[/]" + (f": {why}" if why else "")
        elif a.executable:
            state = "planned"
        else:
            state = f"[red]not executable[/]: {a.blocked_reason}"
        account = a.account_id + (f" ({a.display_name})" if a.display_name else "")
        if a.caveat:
            state += f" ({a.caveat})"
        table.add_row(a.id, account, change, source, a.reason, state)
    return table


async def run_cli_remediation(
    container: Container,
    organization_id: str,
    *,
    dry_run: bool,
    console: Console,
    confirm: Callable[[str], bool],
) -> int:
    """Print the plan; unless ``dry_run``, ask, execute and wait; the process exit code."""
    if await container.store.organizations.get(organization_id=organization_id) is None:
        console.print(f"[red]No organization {organization_id}.")
        return 1
    principal = Principal(organization_id, Role.ADMIN, CLI_APPROVER)
    service = container.remediation
    plan = await service.plan(principal)
    console.print(action_table("Remediation plan", plan))
    todo = [a for a in plan if a.executable and a.state not in _RUNNING]
    if dry_run or not plan:
        console.print(f"{len(plan)} action(s) planned; nothing was called (dry run).")
        return 0
    if not todo:
        console.print("[red]No action can be executed with what the connection was granted.")
        return 1
    if not confirm(f"Call Atlassian for {len(todo)} action(s)?"):
        console.print("Nothing was called.")
        return 1
    try:
        await service.execute(principal, [a.id for a in todo], True)
    except DomainError as exc:
        console.print(f"[red]{exc.message}")
        return 1
    await service.wait_idle()
    done = await container.store.remediations.get_many(
        organization_id=organization_id, action_ids=[a.id for a in todo]
    )
    finished = [done[a.id] for a in todo if a.id in done]
    console.print(action_table("Remediation results", finished))
    return 0 if all(a.state is ActionState.VERIFIED for a in finished) else 1
