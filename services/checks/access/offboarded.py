"""``confluence-offboarded-access-removed``: offboarded people keep no active account."""

from __future__ import annotations

from services.checks.access.data import ACCESS, IDENTITIES_INPUT, PEOPLE_INPUT, AccessData
from services.checks.access.gate import conclude, not_monitored, when
from services.checks.base import Outcome
from services.checks.controls import controls_for
from services.checks.models import CheckItem
from services.models import AccountStatus
from services.people.models import PersonStatus

ID = "confluence-offboarded-access-removed"


class OffboardedAccessRemoved:
    """Fails for an account linked to an OFFBOARDED person that is still ``active`` in the
    latest snapshot more than the grace period (24 h) after ``offboardedAt``."""

    id = ID
    title = "Confluence access should be removed for offboarded user"
    description = (
        "Every Confluence account linked to a person who was offboarded must be deactivated "
        "within the grace period (24 hours) after the offboarding date."
    )
    fix = (
        "Deactivate or remove the account in Atlassian administration (or remove it from "
        "every Confluence group), then sync. If the account is not that person's, link it "
        "to the right person or mark it as not staff."
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
            if account.account_status is not AccountStatus.ACTIVE:
                continue
            person = data.person_of(data.identity(account.account_id))
            if person is None or person.status is not PersonStatus.OFFBOARDED:
                continue
            left = person.offboarded_at
            if left is None or data.now - left <= data.grace_period:
                continue
            reason = f"{person.email} was offboarded on {when(left)}; the account is still active"
            items.append(CheckItem("account", account.account_id, account.display_name, reason))
        return conclude(data, items, passing="no offboarded person has an active account")
