"""The check engine's ``on_changed`` hook: every changed outcome becomes an evidence record.

The record holds the full result, the population it was computed over, the snapshot (id,
integration, time) and, for excepted items, the exceptions that excepted them (who, why,
until when) — what an auditor needs to re-judge the conclusion.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from services.checks.base import CheckItem, CheckResult, Evaluation, Population, PopulationItem
from services.evidence.chain import EvidenceEntry, canonical_json
from services.evidence.service import EvidenceService
from services.store import Store


class PopulationText:
    """The canonical JSON of populations, each population and each item serialised once.

    Per organization and population kind it keeps the last population with its text and the
    text of each of its items (by object: items are immutable once built). The same
    population object again (several checks over one evaluation's data, or evaluations over
    unchanged data — see ``services.checks.access.population``) costs nothing; a new
    population costs the serialisation of its new items only. The text equals
    ``canonical_json({"kind": …, "items": […]})``, so the evidence body is byte-identical
    (ADR 006).
    """

    def __init__(self, *, max_populations: int = 128) -> None:
        self._max = max_populations
        self._held: OrderedDict[tuple[str, str], tuple[Population, str, dict[int, Any]]] = (
            OrderedDict()
        )
        self.populations_serialised = 0  # counters for tests and benchmarks
        self.items_serialised = 0

    def text(self, organization_id: str, population: Population) -> str:
        """``canonical_json`` of the population as the evidence body holds it."""
        key = (organization_id, population.kind)
        held = self._held.get(key)
        if held is not None and held[0] is population:
            return held[1]
        before: dict[int, tuple[PopulationItem, str]] = held[2] if held is not None else {}
        texts: dict[int, tuple[PopulationItem, str]] = {}
        parts = []
        for item in population.items:
            hit = before.get(id(item))
            if hit is not None and hit[0] is item:
                part = hit[1]
            else:
                part = canonical_json(item)
                self.items_serialised += 1
            texts[id(item)] = (item, part)
            parts.append(part)
        # Keys sorted as canonical_json sorts them: "items" before "kind".
        text = f'{{"items":[{",".join(parts)}],"kind":{canonical_json(population.kind)}}}'
        self.populations_serialised += 1
        self._held[key] = (population, text, texts)
        self._held.move_to_end(key)
        while len(self._held) > self._max:
            self._held.popitem(last=False)
        return text


class EvidenceRecorder:
    """``OnChanged``: seal the evaluation into the organization's chain; return the record id."""

    def __init__(
        self,
        evidence: EvidenceService,
        store: Store,
        *,
        population_text: PopulationText | None = None,
    ) -> None:
        self._evidence = evidence
        self._store = store
        self.population_text = population_text or PopulationText()

    async def __call__(self, evaluation: Evaluation) -> str | None:
        """Append the changed evaluation; its id becomes the result's ``evidenceId``."""
        result = evaluation.result
        org = result.organization_id
        integration_id = await self._integration_of(org, result.snapshot_id)
        previous = evaluation.previous
        body: dict[str, Any] = {
            "checkId": result.check_id,
            "checkTitle": evaluation.check.title,
            "status": result.status.value,
            "reason": result.reason,
            "failingItems": _items(result.failing_items),
            "exceptedItems": _items(result.excepted_items),
            "exceptions": await self._exceptions(org, result, result.excepted_items),
            "evaluatedAt": result.evaluated_at,
            "changedAt": result.changed_at,
            "dataAsOf": result.data_as_of,
            "snapshotId": result.snapshot_id,
            "previousStatus": previous.status.value if previous else None,
            "previousEvidenceId": previous.evidence_id if previous else None,
        }
        population = evaluation.population
        # CPU-bound for a large new population: off the event loop.
        population_json = await asyncio.to_thread(self.population_text.text, org, population)
        record = await self._evidence.record(
            EvidenceEntry(
                organization_id=org,
                check_id=result.check_id,
                evaluated_at=result.evaluated_at,
                result=body,
                population={"kind": population.kind, "items": list(population.items)},
                snapshot_id=result.snapshot_id,
                integration_id=integration_id,
                snapshot_at=result.data_as_of,
                population_json=population_json,
            )
        )
        return record.id

    async def _integration_of(self, organization_id: str, snapshot_id: str | None) -> str | None:
        if snapshot_id is None:
            return None
        integrations = await self._store.integrations.list_by_organization(
            organization_id=organization_id
        )
        return next((i.id for i in integrations if i.current_snapshot_id == snapshot_id), None)

    async def _exceptions(
        self, organization_id: str, result: CheckResult, excepted: Sequence[CheckItem]
    ) -> list[Mapping[str, Any]]:
        if not excepted:
            return []
        wanted = {i.resource_id for i in excepted}
        active = await self._store.check_exceptions.active(
            organization_id=organization_id, now=result.evaluated_at, check_id=result.check_id
        )
        return [
            {
                "id": e.id,
                "resourceId": e.resource_id,
                "reason": e.reason,
                "expiresAt": e.expires_at,
                "createdAt": e.created_at,
                "createdBy": e.created_by,
            }
            for e in sorted(active, key=lambda e: (e.resource_id, e.id))
            if e.resource_id in wanted
        ]


def _items(items: Sequence[CheckItem]) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": i.resource_type,
            "resourceId": i.resource_id,
            "name": i.name,
            "reason": i.reason,
        }
        for i in items
    ]
