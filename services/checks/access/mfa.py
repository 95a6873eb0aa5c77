"""``confluence-mfa-enabled``: active staff accounts have two-step verification on.

MFA is known only through the Atlassian Admin API: without an admin key the check is
NOT_MONITORED. An account whose MFA is unknown (``None``) is not failing: unknown ≠ false.
"""

from __future__ import annotations

from services.checks.access.data import ACCESS, IDENTITIES_INPUT, AccessData
from services.checks.access.gate import not_monitored
from services.checks.access.judged import JudgedCheck
from services.checks.base import Outcome
from services.checks.controls import controls_for
from services.checks.models import CheckItem, CheckStatus
from services.identity.models import Classification
from services.sync.models import SnapshotAccount

ID = "confluence-mfa-enabled"
NO_KEY = (
    "MFA data is unavailable: add an Atlassian organization admin API key to the "
    "access-review integration (setAtlassianAdminKey)"
)
NO_DATA = "MFA data is unavailable: the current snapshot has none yet; sync again"


class MfaEnabled(JudgedCheck):
    """Fails for a STAFF account with Confluence access (``has_access``) and
    ``mfaEnabled = false``."""

    id = ID
    title = "MFA should be enabled for Confluence users"
    description = (
        "Every active staff account must have two-step verification enabled. MFA status "
        "comes from the Atlassian Admin API; without it the check is not monitored."
    )
    fix = (
        "Enforce two-step verification in an Atlassian authentication policy (or ask the "
        "person to turn it on), then sync."
    )
    controls = controls_for(ID)
    source = ACCESS
    reads = frozenset({IDENTITIES_INPUT})
    passing = "every active staff account with known MFA has it on"

    def gate(self, data: AccessData) -> Outcome | None:
        """NOT_MONITORED without the prerequisites, an admin key, or any MFA data."""
        blocked = not_monitored(data)
        if blocked is not None:
            return blocked
        assert data.integration is not None  # not_monitored checked it
        if not data.integration.has_admin_key:
            return Outcome(CheckStatus.NOT_MONITORED, NO_KEY, population=data.population)
        if data.facts.mfa_unknown:
            return Outcome(CheckStatus.NOT_MONITORED, NO_DATA, population=data.population)
        return None

    def judge(self, data: AccessData, account: SnapshotAccount) -> CheckItem | None:
        """Failing: a STAFF account with access and two-step verification off."""
        if not account.has_access or account.mfa_enabled is not False:
            return None
        identity = data.identities.get(account.account_id)
        if identity is None or identity.classification is not Classification.STAFF:
            return None
        reason = "two-step verification is off for this active staff account"
        return CheckItem("account", account.account_id, account.display_name, reason)
