"""The check engine's ``record_evidence``: every changed outcome becomes an evidence record.

The record holds the full result, the population it was computed over, the snapshot (id,
integration, time) and, for excepted items, the exceptions that excepted them (who, why,
until when) — what an auditor needs to re-judge the conclusion. Its result fields are the
result's one JSON form (``CheckResult.to_json``) less ``organizationId`` (the record's own),
``id`` and ``evidenceId`` (the record is what gives the result its evidence id).

The lists (the population's items, the failing and excepted items, the exceptions) are kept
apart in content-addressed chunks and the body holds their references (format 2, ADR 011),
so a record stays small whatever the population: at 100,000 accounts a body with the lists
inline was 17 to 20 MB, over MongoDB's 16 MB limit.
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
from services.evidence.chunks import chunk_texts, chunk_values, cuts_after
from services.evidence.models import ChunkedList, EvidenceEntry
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


class PopulationChunks:
    """The chunked form of populations: each population chunked once, each item serialised
    once.

    Per organization and population kind it keeps the last population with its chunked form
    and the canonical text (and chunk boundary) of each of its items (by object: items are
    immutable once built). The same population object again (several checks over one
    evaluation's data, or evaluations over unchanged data — see
    ``services.checks.access.population``) costs nothing; a new population costs the
    serialisation of its new items, the joining and hashing of its chunks. Chunks are equal
    to ``chunk_values(population.items)`` (ADR 011).
    """

    def __init__(self, *, max_populations: int = 128) -> None:
        self._max = max_populations
        self._held: OrderedDict[
            tuple[str, str], tuple[Population, ChunkedList, dict[int, tuple[Any, str, bool]]]
        ] = OrderedDict()
        self.populations_chunked = 0  # counters for tests and benchmarks
        self.items_serialised = 0

    def chunked(self, organization_id: str, population: Population) -> ChunkedList:
        """The population's items as a chunked list."""
        key = (organization_id, population.kind)
        held = self._held.get(key)
        if held is not None and held[0] is population:
            self._held.move_to_end(key)
            return held[1]
        before: dict[int, tuple[PopulationItem, str, bool]] = held[2] if held is not None else {}
        kept: dict[int, tuple[PopulationItem, str, bool]] = {}
        texts, cuts = [], []
        for item in population.items:
            hit = before.get(id(item))
            if hit is None or hit[0] is not item:
                text = canonical_json(item)
                hit = (item, text, cuts_after(text))
                self.items_serialised += 1
            kept[id(item)] = hit
            texts.append(hit[1])
            cuts.append(hit[2])
        chunked = chunk_texts(texts, cuts=cuts)
        self.populations_chunked += 1
        self._held[key] = (population, chunked, kept)
        self._held.move_to_end(key)
        while len(self._held) > self._max:
            self._held.popitem(last=False)
        return chunked


class EvidenceRecorder:
    """``RecordEvidence``: seal the evaluation into the organization's chain, return its id."""

    def __init__(
        self,
        evidence: EvidenceService,
        *,
        integrations: IntegrationsRepo,
        check_exceptions: CheckExceptionsRepo,
        populations: PopulationChunks | None = None,
    ) -> None:
        self._evidence = evidence
        self._integrations = integrations
        self._check_exceptions = check_exceptions
        self.populations = populations or PopulationChunks()

    async def __call__(self, evaluation: Evaluation) -> str | None:
        """Append the changed evaluation; its id becomes the result's ``evidenceId``."""
        result = evaluation.result
        org = result.organization_id
        integration_id = await self._integration_of(org, result.snapshot_id)
        previous = evaluation.previous
        shared = result.to_json()
        exceptions = await self._exceptions(org, result, result.excepted_items)
        population = evaluation.population
        # CPU-bound for a large new population or many items: off the event loop.
        lists = await asyncio.to_thread(
            self._lists,
            org,
            population,
            shared["failingItems"],
            shared["exceptedItems"],
            exceptions,
        )
        items, failing, excepted, covering = lists
        body: dict[str, Any] = {
            "checkId": shared["checkId"],
            "checkTitle": evaluation.check.title,
            "status": shared["status"],
            "reason": shared["reason"],
            "failingItems": failing.ref(),
            "exceptedItems": excepted.ref(),
            "exceptions": covering.ref(),
            "evaluatedAt": shared["evaluatedAt"],
            "changedAt": shared["changedAt"],
            "dataAsOf": shared["dataAsOf"],
            "snapshotId": shared["snapshotId"],
            "previousStatus": previous.status.value if previous else None,
            "previousEvidenceId": previous.evidence_id if previous else None,
        }
        record = await self._evidence.record(
            EvidenceEntry(
                organization_id=org,
                check_id=result.check_id,
                evaluated_at=result.evaluated_at,
                result=body,
                population={"kind": population.kind, "items": items.ref()},
                snapshot_id=result.snapshot_id,
                integration_id=integration_id,
                snapshot_at=result.data_as_of,
                lists=lists,
            )
        )
        return record.id

    def _lists(
        self,
        organization_id: str,
        population: Population,
        failing: Sequence[Mapping[str, Any]],
        excepted: Sequence[Mapping[str, Any]],
        exceptions: Sequence[Mapping[str, Any]],
    ) -> tuple[ChunkedList, ChunkedList, ChunkedList, ChunkedList]:
        """The record's lists, chunked: population items, failing, excepted, exceptions."""
        return (
            self.populations.chunked(organization_id, population),
            chunk_values(failing),
            chunk_values(excepted),
            chunk_values(exceptions),
        )

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
