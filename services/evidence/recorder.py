"""The check engine's ``record_evidence``: every changed outcome becomes an evidence record.

The record holds the full result, the population it was computed over, the snapshot (id,
integration, time) and, for excepted items, the exceptions that excepted them (who, why,
until when) — what an auditor needs to re-judge the conclusion. Its result fields are the
result's one JSON form (``CheckResult.to_json``) less ``organizationId`` (the record's own),
``id`` and ``evidenceId`` (the record is what gives the result its evidence id): the same
keys and values as ever, so the sealed text and existing chains are unchanged.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from services.check_exceptions.models import CheckException
from services.checks.base import Evaluation, Population, PopulationItem
from services.checks.models import CheckItem, CheckResult
from services.evidence.chain import canonical_json
from services.evidence.models import EvidenceEntry
from services.evidence.service import EvidenceService
from services.integrations.models import Integration


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``EvidenceRecorder`` calls."""

    async def list_by_organization(self, *, organization_id: str) -> list[Integration]: ...


class CheckExceptionsRepo(Protocol):
    """The ``CheckExceptionRepository`` methods ``EvidenceRecorder`` calls."""

    async def active(
        self, *, organization_id: str, now: datetime, check_id: str | None = None
    ) -> list[CheckException]: ...


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
    """``RecordEvidence``: seal the evaluation into the organization's chain, return its id."""

    def __init__(
        self,
        evidence: EvidenceService,
        *,
        integrations: IntegrationsRepo,
        check_exceptions: CheckExceptionsRepo,
        population_text: PopulationText | None = None,
    ) -> None:
        self._evidence = evidence
        self._integrations = integrations
        self._check_exceptions = check_exceptions
        self.population_text = population_text or PopulationText()

    async def __call__(self, evaluation: Evaluation) -> str | None:
        """Append the changed evaluation; its id becomes the result's ``evidenceId``."""
        result = evaluation.result
        org = result.organization_id
        integration_id = await self._integration_of(org, result.snapshot_id)
        previous = evaluation.previous
        shared = result.to_json()
        body: dict[str, Any] = {
            "checkId": shared["checkId"],
            "checkTitle": evaluation.check.title,
            "status": shared["status"],
            "reason": shared["reason"],
            "failingItems": shared["failingItems"],
            "exceptedItems": shared["exceptedItems"],
            "exceptions": await self._exceptions(org, result, result.excepted_items),
            "evaluatedAt": shared["evaluatedAt"],
            "changedAt": shared["changedAt"],
            "dataAsOf": shared["dataAsOf"],
            "snapshotId": shared["snapshotId"],
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
        integrations = await self._integrations.list_by_organization(
            organization_id=organization_id
        )
        return next((i.id for i in integrations if i.current_snapshot_id == snapshot_id), None)

    async def _exceptions(
        self, organization_id: str, result: CheckResult, excepted: Sequence[CheckItem]
    ) -> list[Mapping[str, Any]]:
        if not excepted:
            return []
        wanted = {i.resource_id for i in excepted}
        active = await self._check_exceptions.active(
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
