"""The required-policy catalogue, title matching, and heading structure from storage XHTML."""

from __future__ import annotations

import pytest

from services.models import Framework
from services.policies.catalogue import PolicyType, matching_types, required_policies
from services.policies.structure import headings, missing_sections

T = PolicyType


def test_frameworks_decide_the_required_types() -> None:
    soc2 = {d.type for d in required_policies([])}
    assert soc2 == {d.type for d in required_policies([Framework.SOC2])} and len(soc2) == 13
    iso = {d.type for d in required_policies([Framework.ISO27001])}
    assert iso - soc2 == {T.HUMAN_RESOURCES_SECURITY, T.PHYSICAL_SECURITY, T.OPERATIONS_SECURITY}
    assert soc2 - iso == {T.CODE_OF_CONDUCT}
    assert len(required_policies([Framework.SOC2, Framework.ISO27001])) == 16


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Information Security Policy", [T.INFORMATION_SECURITY]),
        ("ACCESS CONTROL", [T.ACCESS_CONTROL]),
        ("Business Continuity & Disaster-Recovery Plan", [T.BUSINESS_CONTINUITY_DISASTER_RECOVERY]),
        ("Disaster recovery runbook", [T.BUSINESS_CONTINUITY_DISASTER_RECOVERY]),
        ("Data Retention and Disposal Policy", [T.DATA_RETENTION_DISPOSAL]),
        ("Cryptographic Controls", [T.ENCRYPTION_CRYPTOGRAPHY]),
        ("Third Party Risk Management", [T.RISK_MANAGEMENT, T.VENDOR_MANAGEMENT]),
        ("Supplier Security", [T.VENDOR_MANAGEMENT]),
        ("HR-Security Policy", [T.HUMAN_RESOURCES_SECURITY]),
        ("Risk   Assessment Procedure", [T.RISK_MANAGEMENT]),
        ("Password Policy", []),
        ("Sprint Retrospective", []),
    ],
)
def test_title_matching(title: str, expected: list[PolicyType]) -> None:
    assert list(matching_types(title)) == expected


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ("<h1>Purpose</h1><h2>Scope</h2><h6>Policy</h6>", ()),
        ("<H2>PURPOSE</H2><h3><strong>Scope</strong></h3><h4>1.2 Policy:</h4>", ()),
        ("<h1>Purpose</h1><h2>Scope</h2><h2>Guidelines</h2>", ("Policy",)),
        ("<p>Purpose</p><p>Scope</p><p>Policy</p>", ("Purpose", "Scope", "Policy")),
        ("<h1>Purpose and Scope</h1><h1>Policy statement</h1>", ("Purpose", "Scope", "Policy")),
        (
            '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[<h1>Purpose</h1>]]>'
            "</ac:plain-text-body></ac:structured-macro><h1>Scope</h1><h1>Policy</h1>",
            ("Purpose",),
        ),
        ("<!-- <h1>Purpose</h1> --><h1>Scope &amp; more</h1><h1>Policy</h1>", ("Purpose", "Scope")),
        ("<h1>Purpose<h1>Scope</h1><h1>Policy</h1>", ("Purpose", "Scope")),
        ("", ("Purpose", "Scope", "Policy")),
        (None, ("Purpose", "Scope", "Policy")),
    ],
)
def test_missing_sections(body: str | None, missing: tuple[str, ...]) -> None:
    assert missing_sections(body) == missing


def test_headings_keep_nested_text_and_entities() -> None:
    body = '<h2>Data <em>&amp;</em> <ac:link><ri:page ri:content-title="X"/>Scope</ac:link></h2>'
    assert headings(body) == ["Data & Scope"]
