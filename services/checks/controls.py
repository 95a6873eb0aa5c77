"""The framework controls each check is evidence for (SPEC §6's control table)."""

from __future__ import annotations

from services.checks.base import ControlRef
from services.models import Framework

SOC2 = {
    "CC2.2": "Internal communication of information to support internal control",
    "CC5.3": "Control activities deployed through policies and procedures",
    "CC6.1": "Logical access security software, infrastructure and architectures",
    "CC6.2": "User registration and authorization before credentials are issued",
    "CC6.3": "Role-based access: authorizing, modifying and removing access",
}
ISO27001 = {
    "A.5.1": "Policies for information security",
    "A.5.16": "Identity management",
    "A.5.18": "Access rights",
    "A.6.5": "Responsibilities after termination or change of employment",
    "A.8.5": "Secure authentication",
}
CHECK_CONTROLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "confluence-document-setup": (("CC5.3", "CC2.2"), ("A.5.1",)),
    "confluence-policy-current": (("CC5.3",), ("A.5.1",)),
    "confluence-offboarded-access-removed": (("CC6.2", "CC6.3"), ("A.5.18", "A.6.5")),
    "confluence-user-identified": (("CC6.1", "CC6.2"), ("A.5.16",)),
    "confluence-access-valid": (("CC6.2", "CC6.3"), ("A.5.18",)),
    "confluence-access-review-completed": (("CC6.2", "CC6.3"), ("A.5.18",)),
    "confluence-mfa-enabled": (("CC6.1",), ("A.8.5",)),
}


def controls_for(check_id: str) -> tuple[ControlRef, ...]:
    """The SOC 2 and ISO 27001 controls of a check (KeyError for an unknown check)."""
    soc2, iso = CHECK_CONTROLS[check_id]
    return tuple(ControlRef(Framework.SOC2, c, SOC2[c]) for c in soc2) + tuple(
        ControlRef(Framework.ISO27001, c, ISO27001[c]) for c in iso
    )
