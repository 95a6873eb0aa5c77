"""``confluence-user-identified``: every active account belongs to a person or is justified."""

from __future__ import annotations

from services.checks.access.data import ACCESS, IDENTITIES_INPUT, AccessData
from services.checks.access.gate import conclude, not_monitored
from services.checks.base import Outcome
from services.checks.controls import controls_for
from services.checks.models import CheckItem
from services.identity.models import Classification

ID = "confluence-user-identified"


class UserIdentified:
    """Fails for every account with Confluence access (``has_access``) that is UNIDENTIFIED."""

    id = ID
    title = "User should be identified"
    description = (
        "Every active Confluence account must be linked to a known person, or marked as "
        "not staff (service, shared, system or external account) with a reason."
    )
    fix = (
        "Import the person (people CSV or upsertPeople) so the account's email matches, "
        "link the account to a person (linkAccount), or mark it as not staff with a reason "
        "(markAccountNotStaff)."
    )
    controls = controls_for(ID)
    source = ACCESS
    reads = frozenset({IDENTITIES_INPUT})

    def evaluate(self, data: AccessData) -> Outcome:
        """Pure evaluation over the current snapshot and identities."""
        blocked = not_monitored(data)
        if blocked is not None:
            return blocked
        items = []
        for account in data.accounts:
            if not account.has_access:
                continue
            identity = data.identity(account.account_id)
            if identity.classification is Classification.UNIDENTIFIED:
                hidden = "" if account.email else " (its email is hidden)"
                reason = f"active account not linked to a person or justified{hidden}"
                items.append(CheckItem("account", account.account_id, account.display_name, reason))
        return conclude(data, items, passing="every active account is identified")
