"""The required-policy catalogue of SPEC §6.1 and title matching."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.models import Framework

SOC2, ISO = Framework.SOC2, Framework.ISO27001
DEFAULT_FRAMEWORKS = (Framework.SOC2,)


class PolicyType(enum.StrEnum):
    """A kind of policy a framework requires."""

    INFORMATION_SECURITY = "INFORMATION_SECURITY"
    ACCESS_CONTROL = "ACCESS_CONTROL"
    ACCEPTABLE_USE = "ACCEPTABLE_USE"
    ASSET_MANAGEMENT = "ASSET_MANAGEMENT"
    BUSINESS_CONTINUITY_DISASTER_RECOVERY = "BUSINESS_CONTINUITY_DISASTER_RECOVERY"
    CHANGE_MANAGEMENT = "CHANGE_MANAGEMENT"
    CODE_OF_CONDUCT = "CODE_OF_CONDUCT"
    DATA_CLASSIFICATION = "DATA_CLASSIFICATION"
    DATA_RETENTION_DISPOSAL = "DATA_RETENTION_DISPOSAL"
    ENCRYPTION_CRYPTOGRAPHY = "ENCRYPTION_CRYPTOGRAPHY"
    INCIDENT_RESPONSE = "INCIDENT_RESPONSE"
    RISK_MANAGEMENT = "RISK_MANAGEMENT"
    VENDOR_MANAGEMENT = "VENDOR_MANAGEMENT"
    HUMAN_RESOURCES_SECURITY = "HUMAN_RESOURCES_SECURITY"
    PHYSICAL_SECURITY = "PHYSICAL_SECURITY"
    OPERATIONS_SECURITY = "OPERATIONS_SECURITY"


@dataclass(frozen=True, slots=True)
class PolicyDefinition:
    """One row of the catalogue: the type, its display title, frameworks and title phrases."""

    type: PolicyType
    title: str
    frameworks: tuple[Framework, ...]
    phrases: tuple[str, ...]


def _d(t: PolicyType, title: str, fw: tuple[Framework, ...], *phrases: str) -> PolicyDefinition:
    return PolicyDefinition(t, title, fw, phrases)


P = PolicyType
BOTH = (SOC2, ISO)
CATALOGUE: tuple[PolicyDefinition, ...] = (
    _d(P.INFORMATION_SECURITY, "Information Security Policy", BOTH, "information security"),
    _d(P.ACCESS_CONTROL, "Access Control Policy", BOTH, "access control"),
    _d(P.ACCEPTABLE_USE, "Acceptable Use Policy", BOTH, "acceptable use"),
    _d(P.ASSET_MANAGEMENT, "Asset Management Policy", BOTH, "asset management"),
    _d(
        P.BUSINESS_CONTINUITY_DISASTER_RECOVERY,
        "Business Continuity and Disaster Recovery Policy",
        BOTH,
        "business continuity",
        "disaster recovery",
    ),
    _d(P.CHANGE_MANAGEMENT, "Change Management Policy", BOTH, "change management"),
    _d(P.CODE_OF_CONDUCT, "Code of Conduct", (SOC2,), "code of conduct"),
    _d(P.DATA_CLASSIFICATION, "Data Classification Policy", BOTH, "data classification"),
    _d(
        P.DATA_RETENTION_DISPOSAL,
        "Data Retention and Disposal Policy",
        BOTH,
        "data retention",
        "data disposal",
    ),
    _d(
        P.ENCRYPTION_CRYPTOGRAPHY,
        "Encryption and Cryptography Policy",
        BOTH,
        "encryption",
        "cryptograph",
    ),
    _d(P.INCIDENT_RESPONSE, "Incident Response Policy", BOTH, "incident response"),
    _d(P.RISK_MANAGEMENT, "Risk Management Policy", BOTH, "risk management", "risk assessment"),
    _d(
        P.VENDOR_MANAGEMENT,
        "Vendor Management Policy",
        BOTH,
        "vendor management",
        "supplier",
        "third-party risk",
    ),
    _d(
        P.HUMAN_RESOURCES_SECURITY,
        "Human Resources Security Policy",
        (ISO,),
        "human resources security",
        "hr security",
    ),
    _d(P.PHYSICAL_SECURITY, "Physical Security Policy", (ISO,), "physical security"),
    _d(P.OPERATIONS_SECURITY, "Operations Security Policy", (ISO,), "operations security"),
)
BY_TYPE = {d.type: d for d in CATALOGUE}


def effective_frameworks(active: Iterable[Framework]) -> tuple[Framework, ...]:
    """The active frameworks, or SOC 2 when none is active."""
    chosen = tuple(dict.fromkeys(active))
    return chosen or DEFAULT_FRAMEWORKS


def required_policies(active: Iterable[Framework]) -> tuple[PolicyDefinition, ...]:
    """The catalogue rows any of the effective frameworks requires, in catalogue order."""
    frameworks = set(effective_frameworks(active))
    return tuple(d for d in CATALOGUE if frameworks.intersection(d.frameworks))


_SPACES = re.compile(r"\s+")


def normalise_title(text: str) -> str:
    """Case-folded, ``&`` read as ``and``, ``-`` as a space, whitespace collapsed."""
    text = text.casefold().replace("&", " and ").replace("-", " ")
    return _SPACES.sub(" ", text).strip()


_PHRASES = tuple((d.type, tuple(normalise_title(p) for p in d.phrases)) for d in CATALOGUE)


def matching_types(title: str) -> tuple[PolicyType, ...]:
    """Every policy type whose phrases the title contains, in catalogue order."""
    text = normalise_title(title)
    return tuple(t for t, phrases in _PHRASES if any(p in text for p in phrases))
