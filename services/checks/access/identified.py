"""``confluence-user-identified``: every active account belongs to a person or is justified."""

from __future__ import annotations

from services.checks.access.data import ACCESS, IDENTITIES_INPUT, AccessData
from services.checks.access.judged import JudgedCheck
from services.checks.controls import controls_for
from services.checks.models import CheckItem
from services.identity.models import Classification
from services.sync.models import SnapshotAccount

ID = "confluence-user-identified"


class UserIdentified(JudgedCheck):
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
    passing = "every active account is identified"

    def judge(self, data: AccessData, account: SnapshotAccount) -> CheckItem | None:
        """Failing: an account with access that is UNIDENTIFIED."""
        if not account.has_access:
            return None
        identity = data.identities.get(account.account_id)
        if identity is not None and identity.classification is not Classification.UNIDENTIFIED:
            return None
        hidden = "" if account.email else " (its email is hidden)"
        reason = f"active account not linked to a person or justified{hidden}"
        return CheckItem("account", account.account_id, account.display_name, reason)
