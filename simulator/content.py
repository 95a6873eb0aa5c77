"""Page titles and storage-format (XHTML) bodies for generated sites."""

from __future__ import annotations

import random

POLICY_TITLES = (
    "Information Security Policy",
    "Access Control Policy",
    "Acceptable Use Policy",
    "Asset Management Policy",
    "Business Continuity and Disaster Recovery Plan",
    "Change Management Policy",
    "Code of Conduct",
    "Data Classification Policy",
    "Data Retention and Disposal Policy",
    "Encryption and Cryptography Policy",
    "Incident Response Plan",
    "Risk Management Policy",
    "Vendor Management Policy",
    "Human Resources Security Policy",
    "Physical Security Policy",
    "Operations Security Policy",
    "Password Policy",
    "Secure Development Policy",
    "Logging and Monitoring Standard",
    "Remote Work Policy",
)

OTHER_TITLES = (
    "Team Onboarding Guide",
    "Sprint Retrospective",
    "Architecture Decision Record",
    "Quarterly Planning",
    "On-call Runbook",
    "Release Notes",
    "Meeting Notes",
    "Customer Feedback Summary",
    "How to Request Laptop Access",
    "Product Roadmap",
)

OTHER_LABELS = ("meeting-notes", "howto", "runbook", "planning", "")
EXTRA_POLICY_LABELS = ("security", "soc2", "iso27001", "hr", "")

_SECTION_TEXT = {
    "Purpose": "This document sets out why {topic} matters to the company and what it protects.",
    "Scope": "It applies to all employees, contractors and systems handling company data.",
    "Policy": "Access is granted on least privilege, reviewed quarterly and revoked on exit.",
    "Roles and Responsibilities": "The security team owns this document; managers enforce it.",
    "Enforcement": "Violations may lead to disciplinary action up to termination.",
    "Review": "This document is reviewed at least annually by the security committee.",
}


def policy_body(title: str, missing: tuple[str, ...], rng: random.Random) -> str:
    """A policy page in storage format with h1/h2 headings, minus the missing sections."""
    topic = title.lower()
    parts = ['<p><ac:structured-macro ac:name="toc" ac:schema-version="1"/></p>']
    for section, text in _SECTION_TEXT.items():
        if section in missing:
            continue
        level = 1 if section in ("Purpose", "Scope", "Policy") else 2
        parts.append(f"<h{level}>{section}</h{level}>")
        parts.append(f"<p>{text.format(topic=topic)}</p>")
        if section == "Policy":
            items = "".join(
                f"<li>Rule {i + 1} of the {topic}.</li>" for i in range(rng.randint(2, 5))
            )
            parts.append(f"<ul>{items}</ul>")
    if "Policy" in missing:
        parts.append("<h2>Guidelines</h2><p>Details to be written.</p>")
    return "".join(parts)


def other_body(title: str, rng: random.Random) -> str:
    """A non-policy page body in storage format."""
    notes = "".join(f"<li>Item {i + 1}</li>" for i in range(rng.randint(1, 4)))
    return f"<h1>{title}</h1><p>Working notes.</p><h2>Details</h2><ul>{notes}</ul>"
