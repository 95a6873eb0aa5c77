"""Comparing two ACCESS_REVIEW snapshots account by account (ADR 020).

A full sync's snapshot is compared with the one targeted runs built before it: they must agree
on everything the access checks read of an account — whether it is in the snapshot, its status
in Atlassian and in the site's directory, whether it has access and how (``accessVia``), its
admin rights and how (``adminVia``), its groups. Names, emails, MFA and last activity change
without audit events (and last activity all the time), so they are not compared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from services.sync.models import SnapshotAccount


@dataclass(frozen=True, slots=True)
class Difference:
    """One account on which two snapshots disagree: the account in each (None: not in it)."""

    account_id: str
    before: SnapshotAccount | None
    after: SnapshotAccount | None

    @property
    def groups(self) -> set[str]:
        """The account's groups in either snapshot."""
        return {g for a in (self.before, self.after) if a is not None for g in a.groups}

    def describe(self) -> str:
        """Both states, for a log line."""
        was = access_state(self.before) if self.before else "absent"
        now = access_state(self.after) if self.after else "absent"
        return f"{self.account_id}: {was} -> {now}"


def access_state(account: SnapshotAccount) -> str:
    """What the comparison looks at, as one line (also what a difference shows)."""
    access = sorted(f"{g.kind.value}:{g.group or '-'}:{g.role or '-'}" for g in account.access_via)
    admin = sorted(f"{g.kind.value}:{g.group or '-'}:{g.role or '-'}" for g in account.admin_via)
    directory = account.directory_status.value if account.directory_status else "-"
    return (
        f"status={account.account_status.value} directory={directory} "
        f"access={int(account.has_access)} via={','.join(access) or '-'} "
        f"admin={','.join(admin) or '-'} groups={','.join(sorted(account.groups)) or '-'}"
    )


async def differences(
    before: AsyncIterator[SnapshotAccount], after: AsyncIterator[SnapshotAccount]
) -> list[Difference]:
    """The accounts on which two snapshots (each streamed in account id order) disagree."""
    found: list[Difference] = []
    a = await anext(before, None)
    b = await anext(after, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.account_id < b.account_id):
            assert a is not None
            found.append(Difference(a.account_id, a, None))
            a = await anext(before, None)
        elif a is None or b.account_id < a.account_id:
            found.append(Difference(b.account_id, None, b))
            b = await anext(after, None)
        else:
            if access_state(a) != access_state(b):
                found.append(Difference(a.account_id, a, b))
            a = await anext(before, None)
            b = await anext(after, None)
    return found
