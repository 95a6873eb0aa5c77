"""``confluence-access-valid``: every account's Confluence access is allowed by the rule (SPEC §5).

Per account with Confluence access (``SnapshotAccount.has_access``), first the latest
completed review's decision: REVOKE with access left →
failing; DOWNGRADE still admin → failing; KEEP → approved, overriding the rule until the
next review (only KEEP approves access as it is: a DOWNGRADE carried out leaves the account
to the rule). Otherwise the rule: NOT_STAFF with a reason is
valid; STAFF of an ACTIVE person needs a role the rule allows (``revoke``) and, when admin
roles are set, an admin role to hold admin (``downgrade``). Unidentified accounts and
accounts of offboarded people are judged by their own checks.
"""

from __future__ import annotations

from services.checks.access.data import (
    ACCESS,
    IDENTITIES_INPUT,
    PEOPLE_INPUT,
    REVIEWS_INPUT,
    AccessData,
)
from services.checks.access.gate import access_of, admin_of, when
from services.checks.access.judged import JudgedCheck
from services.checks.controls import controls_for
from services.checks.models import CheckItem
from services.identity.models import Classification
from services.people.models import PersonStatus
from services.reviews.models import AccessDecision, CriticalSystem
from services.sync.models import SnapshotAccount

ID = "confluence-access-valid"


class AccessValid(JudgedCheck):
    """Fails for active accounts whose access the rule or the last review does not allow."""

    id = ID
    title = "User access to critical system should be valid"
    description = (
        "Every active Confluence account must be allowed by Confluence's access rule (the "
        "person's job role, and an admin role for admin rights) or approved (KEEP) in the "
        "latest completed access review; REVOKE and DOWNGRADE decisions must be carried out."
    )
    fix = (
        "Remove the access (revoke) or the admin rights (downgrade) in Confluence and sync; "
        "or, if the access is right, change the access rule or keep it in an access review."
    )
    controls = controls_for(ID)
    source = ACCESS
    reads = frozenset({IDENTITIES_INPUT, PEOPLE_INPUT, REVIEWS_INPUT})
    passing = "every active account's access is valid"

    def judge(self, data: AccessData, account: SnapshotAccount) -> CheckItem | None:
        """Failing: access the last review or the rule does not allow."""
        if not account.has_access:
            return None
        assert data.system is not None  # the gate checked it
        reason = _by_review(data, account)
        if reason is None:
            reason = _by_rule(data, data.system, account)
        if not reason:
            return None
        return CheckItem("account", account.account_id, account.display_name, reason)


def _by_review(data: AccessData, account: SnapshotAccount) -> str | None:
    """The failure a review decision implies; "" when the review approves; None: no say."""
    review = data.completed_review
    decision = review.decisions.get(account.account_id) if review else None
    if review is None or decision is None:
        return None
    done = f"in the access review completed on {when(review.completed_at)}"
    if decision is AccessDecision.REVOKE:
        return (
            f"revoke: access was revoked {done} but the account still has Confluence access "
            f"({access_of(account)})"
        )
    if decision is AccessDecision.DOWNGRADE and account.is_admin:
        return (
            f"downgrade: admin rights were removed {done} but the account is still an admin "
            f"({admin_of(account)})"
        )
    if decision is AccessDecision.KEEP:
        return ""
    return None


def _by_rule(data: AccessData, system: CriticalSystem, account: SnapshotAccount) -> str | None:
    identity = data.identity(account.account_id)
    if identity.classification is Classification.NOT_STAFF:
        return None if identity.reason else "revoke: not-staff account without a reason"
    person = data.person_of(identity)
    if person is None or person.status is not PersonStatus.ACTIVE:
        return None
    role = person.job_role or "no job role"
    if not system.allows_role(person.job_role):
        return f"revoke: {person.email}'s role ({role}) is not allowed access"
    if account.is_admin and not system.allows_admin(person.job_role):
        return (
            f"downgrade: admin ({admin_of(account)}), but {person.email}'s role ({role}) is "
            "not an admin role"
        )
    return None
