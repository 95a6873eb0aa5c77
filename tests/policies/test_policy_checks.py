"""Table-driven tests of the two policy checks (pure: no database, no clock)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from services.checks.base import Outcome
from services.checks.models import CheckStatus
from services.checks.policy.data import PolicyData
from services.checks.policy.document_setup import DocumentSetup
from services.checks.policy.policy_current import PolicyCurrent
from services.integrations.models import Integration, IntegrationStatus, Purpose
from services.models import Framework
from services.policies.catalogue import CATALOGUE, PolicyType, required_policies
from services.policies.models import (
    MappingMethod,
    PageFacts,
    PolicyDocument,
    PolicyState,
    PolicyStatus,
)
from testkit.sync import integration_at

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SOC2_TYPES = [d.type for d in required_policies([Framework.SOC2])]
ISO_ONLY = {
    PolicyType.HUMAN_RESOURCES_SECURITY,
    PolicyType.PHYSICAL_SECURITY,
    PolicyType.OPERATIONS_SECURITY,
}
SETUP, CURRENT = DocumentSetup(), PolicyCurrent()


def integration(**fields: object) -> Integration:
    defaults: dict[str, object] = {
        "id": "int_p",
        "organization_id": "org",
        "purpose": Purpose.POLICY,
        "current_snapshot_id": "snap_1",
        "current_snapshot_at": NOW - timedelta(hours=1),
    }
    return integration_at(NOW, **{**defaults, **fields})


def page_id(t: PolicyType) -> str:
    return f"p-{t.value.lower()}"


def healthy_page(t: PolicyType, **fields: object) -> PageFacts:
    title = next(d.title for d in CATALOGUE if d.type is t)
    base = PageFacts(
        page_id=page_id(t),
        title=title,
        status="current",
        version=3,
        last_modified_at=NOW - timedelta(days=30),
        web_url=f"https://x/{t.value}",
        missing_sections=(),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def document(t: PolicyType, status: PolicyStatus = PolicyStatus.ACTIVE) -> PolicyDocument:
    return PolicyDocument(
        organization_id="org",
        policy_type=t,
        page_id=page_id(t),
        title=t.value,
        status=status,
        method=MappingMethod.AUTO,
        mapped_at=NOW - timedelta(days=90),
    )


@dataclass
class World:
    """Every catalogue policy mapped, approved, current and complete — then one change."""

    frameworks: tuple[Framework, ...] = ()
    integration: Integration | None = field(default_factory=integration)
    documents: dict[PolicyType, PolicyDocument] = field(
        default_factory=lambda: {d.type: document(d.type) for d in CATALOGUE}
    )
    pages: dict[str, PageFacts] = field(
        default_factory=lambda: {page_id(d.type): healthy_page(d.type) for d in CATALOGUE}
    )

    def data(self) -> PolicyData:
        state = PolicyState(self.frameworks, self.integration, self.documents, self.pages)
        return PolicyData(now=NOW, state=state)


AC = PolicyType.ACCESS_CONTROL


def _unmap(w: World) -> None:
    del w.documents[AC]


def _only_soc2_mapped(w: World) -> None:
    for t in ISO_ONLY:
        del w.documents[t]


def _set_page(**fields: object):  # type: ignore[no-untyped-def]
    def change(w: World) -> None:
        w.pages[page_id(AC)] = healthy_page(AC, **fields)

    return change


def _delete_page(w: World) -> None:
    del w.pages[page_id(AC)]


def _draft(w: World) -> None:
    w.documents[AC] = document(AC, PolicyStatus.DRAFT)


# name: (change, frameworks, setup status, setup failing ids, current status, current failing ids)
CASES = {
    "everything set up": (None, (), "PASSING", [], "PASSING", []),
    "missing type": (_unmap, (), "FAILING", ["ACCESS_CONTROL"], "PASSING", []),
    "page archived upstream": (
        _set_page(status="archived"),
        (),
        "FAILING",
        ["ACCESS_CONTROL"],
        "PASSING",
        [],
    ),
    "page deleted upstream": (_delete_page, (), "FAILING", ["ACCESS_CONTROL"], "PASSING", []),
    "draft not approved": (_draft, (), "FAILING", ["ACCESS_CONTROL"], "PASSING", []),
    "stale page (366 days)": (
        _set_page(last_modified_at=NOW - timedelta(days=366)),
        (),
        "PASSING",
        [],
        "FAILING",
        [page_id(AC)],
    ),
    "365 days is not yet stale": (
        _set_page(last_modified_at=NOW - timedelta(days=365)),
        (),
        "PASSING",
        [],
        "PASSING",
        [],
    ),
    "unknown last modification": (
        _set_page(last_modified_at=None),
        (),
        "PASSING",
        [],
        "FAILING",
        [page_id(AC)],
    ),
    "missing section": (
        _set_page(missing_sections=("Scope",)),
        (),
        "PASSING",
        [],
        "FAILING",
        [page_id(AC)],
    ),
    "ISO 27001 adds types": (
        _only_soc2_mapped,
        (Framework.ISO27001,),
        "FAILING",
        sorted(t.value for t in ISO_ONLY),
        "PASSING",
        [],
    ),
    "SOC 2 alone does not need ISO types": (_only_soc2_mapped, (), "PASSING", [], "PASSING", []),
    "SOC 2 + ISO 27001": (
        _only_soc2_mapped,
        (Framework.SOC2, Framework.ISO27001),
        "FAILING",
        sorted(t.value for t in ISO_ONLY),
        "PASSING",
        [],
    ),
    "no POLICY integration": (
        lambda w: setattr(w, "integration", None),
        (),
        "NOT_MONITORED",
        [],
        "NOT_MONITORED",
        [],
    ),
    "no snapshot yet": (
        lambda w: setattr(
            w, "integration", integration(current_snapshot_id=None, current_snapshot_at=None)
        ),
        (),
        "NOT_MONITORED",
        [],
        "NOT_MONITORED",
        [],
    ),
    "needs re-authorisation, failures kept": (
        lambda w: (
            _draft(w),
            setattr(w, "integration", integration(status=IntegrationStatus.NEEDS_REAUTH)),
        ),
        (),
        "ERROR",
        ["ACCESS_CONTROL"],
        "ERROR",
        [],
    ),
    "stale snapshot": (
        lambda w: setattr(
            w, "integration", integration(current_snapshot_at=NOW - timedelta(hours=19))
        ),
        (),
        "ERROR",
        [],
        "ERROR",
        [],
    ),
    "nothing mapped": (
        lambda w: w.documents.clear(),
        (),
        "FAILING",
        sorted(t.value for t in SOC2_TYPES),
        "NOT_MONITORED",
        [],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_policy_checks(case: str) -> None:
    change, frameworks, setup_status, setup_ids, current_status, current_ids = CASES[case]
    world = World(frameworks=frameworks)
    if change is not None:
        change(world)
    data = world.data()
    setup, current = SETUP.evaluate(data), CURRENT.evaluate(data)
    assert (setup.status.value, _ids(setup)) == (setup_status, setup_ids), setup.reason
    assert (current.status.value, _ids(current)) == (current_status, current_ids), current.reason
    for outcome in (setup, current):
        assert outcome.reason, "every status says why"
        if outcome.status is not CheckStatus.NOT_MONITORED:
            assert outcome.snapshot_id == "snap_1" and outcome.population.items
    assert SETUP.evaluate(data) == setup, "deterministic"


def _ids(outcome: Outcome) -> list[str]:
    return [i.resource_id for i in outcome.failing_items]


def test_item_reasons_say_what_to_do() -> None:
    reasons = {}
    for name in (
        "missing type",
        "page archived upstream",
        "page deleted upstream",
        "draft not approved",
    ):
        world = World()
        CASES[name][0](world)  # type: ignore[misc]
        reasons[name] = SETUP.evaluate(world.data()).failing_items[0].reason
    assert "no Confluence page is mapped" in reasons["missing type"]
    assert "archived" in reasons["page archived upstream"]
    assert "no longer in Confluence" in reasons["page deleted upstream"]
    assert "approve" in reasons["draft not approved"]
    world = World()
    _set_page(last_modified_at=NOW - timedelta(days=400), missing_sections=("Purpose", "Policy"))(
        world
    )
    item = CURRENT.evaluate(world.data()).failing_items[0]
    assert item.name == "Access Control Policy"
    assert "400 days ago" in item.reason and "Purpose, Policy" in item.reason


def test_population_names_pages_titles_and_versions() -> None:
    outcome = CURRENT.evaluate(World().data())
    first = outcome.population.items[0]
    assert outcome.population.kind == "pages"
    assert {"pageId", "title", "version", "lastModifiedAt", "missingSections"} <= set(first)
    setup = SETUP.evaluate(World(frameworks=(Framework.ISO27001,)).data())
    assert len(setup.population.items) == 15  # ISO 27001 requires 15 of the 16 types
