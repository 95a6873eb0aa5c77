"""``confluence-offboarded-access-removed``: offboarded people keep no Confluence access."""

from __future__ import annotations

from datetime import datetime

from services.checks.access.data import ACCESS, IDENTITIES_INPUT, PEOPLE_INPUT, AccessData
from services.checks.access.gate import access_of, when
from services.checks.access.judged import JudgedCheck
from services.checks.controls import controls_for
from services.checks.models import CheckItem
from services.people.models import Person, PersonStatus
from services.sync.models import SnapshotAccount

ID = "confluence-offboarded-access-removed"


class OffboardedAccessRemoved(JudgedCheck):
    """Fails for an account linked to an OFFBOARDED person that still has Confluence access in
    the latest snapshot (``SnapshotAccount.has_access``: active, not suspended in the site's
    directory, holding an access role through a group or directly) more than the grace period
    (24 h) after ``offboardedAt``."""

    id = ID
    title = "Confluence access should be removed for offboarded user"
    description = (
        "Every Confluence account linked to a person who was offboarded must lose its "
        "Confluence access (deactivated, suspended, or no access role left, through a group "
        "or directly) within the grace period (24 hours) after the offboarding date."
    )
    fix = (
        "Deactivate or suspend the account in Atlassian administration (or remove its access: "
        "the groups that give it and any role granted directly), then sync. If the account is "
        "not that person's, link it to the right person or mark it as not staff."
    )
    controls = controls_for(ID)
    source = ACCESS
    reads = frozenset({IDENTITIES_INPUT, PEOPLE_INPUT})
    passing = "no offboarded person has Confluence access"
    has_deadlines = True  # the grace period runs out with no change of data

    def judge(self, data: AccessData, account: SnapshotAccount) -> CheckItem | None:
        """Failing: offboarded more than the grace period ago and still with access."""
        left = _offboarded_at(data, account)
        if left is None or data.now - left[1] <= data.grace_period:
            return None
        person, at = left
        reason = (
            f"{person.email} was offboarded on {when(at)}; the account still has "
            f"Confluence access ({access_of(account)})"
        )
        return CheckItem("account", account.account_id, account.display_name, reason)

    def deadline(self, data: AccessData, account: SnapshotAccount) -> datetime | None:
        """When the grace period of an offboarded person's account with access runs out
        (None once it has, or when there is none)."""
        left = _offboarded_at(data, account)
        if left is None or data.now - left[1] > data.grace_period:
            return None
        return left[1] + data.grace_period


def _offboarded_at(data: AccessData, account: SnapshotAccount) -> tuple[Person, datetime] | None:
    """The offboarded person of an account with access, and when they left."""
    if not account.has_access:
        return None
    person = data.person_of(data.identity(account.account_id))
    if person is None or person.status is not PersonStatus.OFFBOARDED:
        return None
    return (person, person.offboarded_at) if person.offboarded_at is not None else None
