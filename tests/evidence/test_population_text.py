"""The population's canonical text is computed once per population and per item (issue 15),
and a body sealed with it is byte-identical to one that serialises the population itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.checks.base import Population
from services.evidence.chain import GENESIS_HASH, EvidenceEntry, canonical_json, seal
from services.evidence.recorder import PopulationText
from tests.evidence.support import KEY

T0 = datetime(2026, 1, 1, tzinfo=UTC)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=8),
    st.lists(st.text(max_size=4), max_size=3),
)
items = st.lists(st.dictionaries(st.text(max_size=6), values, max_size=5), max_size=12)


def body_of(population: Population, *, text: str | None) -> str:
    entry = EvidenceEntry(
        organization_id="org_1",
        check_id="confluence-user-identified",
        evaluated_at=T0,
        result={"status": "FAILING", "reason": 'population "items"', "failingItems": []},
        population={"kind": population.kind, "items": list(population.items)},
        snapshot_id="snap_1",
        integration_id="int_1",
        snapshot_at=T0,
        population_json=text,
    )
    record = seal(
        entry, record_id="evd_1", sequence=1, prev_hash=GENESIS_HASH, recorded_at=T0, key=KEY
    )
    return record.body


@settings(max_examples=60, deadline=None)
@given(kind=st.text(max_size=10), rows=items)
def test_the_text_is_the_canonical_json_and_seals_the_same_body(
    kind: str, rows: list[dict[str, Any]]
) -> None:
    population = Population(kind, tuple(rows))
    text = PopulationText().text("org_1", population)
    assert text == canonical_json({"kind": kind, "items": rows})
    assert body_of(population, text=text) == body_of(population, text=None)


def test_a_population_is_serialised_once_and_unchanged_items_are_reused() -> None:
    texts = PopulationText()
    rows = tuple({"accountId": f"a{i}", "classification": "STAFF"} for i in range(50))
    population = Population("accounts", rows)
    first = texts.text("org_1", population)
    for _ in range(4):  # several checks over one evaluation's population
        assert texts.text("org_1", population) is first
    assert (texts.populations_serialised, texts.items_serialised) == (1, 50)

    changed = {"accountId": "a7", "classification": "UNIDENTIFIED"}
    second = Population("accounts", (*rows[:7], changed, *rows[8:]))
    text = texts.text("org_1", second)
    assert text == canonical_json({"kind": "accounts", "items": list(second.items)})
    assert (texts.populations_serialised, texts.items_serialised) == (2, 51)

    # An equal but rebuilt item is serialised again (items are matched by object, not value).
    texts.text("org_2", population)
    assert texts.items_serialised == 101
