"""The checks Vigil evaluates: an explicit tuple, in the order the API lists them."""

from __future__ import annotations

from typing import Any

from services.checks.access.identified import UserIdentified
from services.checks.access.mfa import MfaEnabled
from services.checks.access.offboarded import OffboardedAccessRemoved
from services.checks.access.review_completed import AccessReviewCompleted
from services.checks.access.valid import AccessValid
from services.checks.base import Check
from services.checks.policy.document_setup import DocumentSetup
from services.checks.policy.policy_current import PolicyCurrent

CHECKS: tuple[Check[Any], ...] = (
    DocumentSetup(),
    PolicyCurrent(),
    OffboardedAccessRemoved(),
    UserIdentified(),
    AccessValid(),
    AccessReviewCompleted(),
    MfaEnabled(),
)
