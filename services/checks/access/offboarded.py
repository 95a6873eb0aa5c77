"""``confluence-offboarded-access-removed``: offboarded people keep no Confluence access."""

from __future__ import annotations

from services.checks.access.data import ACCESS, IDENTITIES_INPUT, PEOPLE_INPUT, AccessData
from services.checks.access.gate import access_of, conclude, not_monitored, when
from services.checks.base import Outcome
from services.checks.controls import controls_for
from services.checks.models import CheckItem
from services.people.models import PersonStatus

ID = "confluence-offboarded-access-removed"


class OffboardedAccessRemoved:
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

    def evaluate(self, data: AccessData) -> Outcome:
        """Pure evaluation over the current snapshot, people and identities."""
        blocked = not_monitored(data)
        if blocked is not None:
            return blocked
        items = []
        for account in data.accounts:
            if not account.has_access:
                continue
            person = data.person_of(data.identity(account.account_id))
            if person is None or person.status is not PersonStatus.OFFBOARDED:
                continue
            left = person.offboarded_at
            if left is None or data.now - left <= data.grace_period:
                continue
            reason = (
                f"{person.email} was offboarded on {when(left)}; the account still has "
                f"Confluence access ({access_of(account)})"
            )
            items.append(CheckItem("account", account.account_id, account.display_name, reason))
        return conclude(data, items, passing="no offboarded person has Confluence access")
