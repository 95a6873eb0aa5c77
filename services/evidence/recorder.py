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
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from services.check_exceptions.models import CheckException
from services.checks.base import Evaluation, Population
from services.checks.models import CheckItem, CheckResult
from services.chunking import Chunker, Cutting
from services.evidence.chain import canonical_json, sha256_hex
from services.evidence.chunks import FORMAT, MAX_CHUNK_CHARS, chunk_values, cuts_after
from services.evidence.models import Blob, ChunkedList, EvidenceEntry
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
    """Long lists of records cut into chunks once, and after a change only where it changed.

    Per organization and list — a population kind, or a check's failing or excepted items —
    it keeps the last cutting (``services.chunking``): the same population object again
    (several checks over one evaluation's data, or evaluations over unchanged data — see
    ``services.checks.access.population``) costs nothing; a new one is compared with the last
    chunk by chunk (unchanged items are the very same objects) and only the chunks holding
    changed items are cut, serialised and hashed again. Chunks a record stored are not
    carried again (``ChunkedList.omitted``) and their text is not kept: a million accounts'
    population is held as its chunks' addresses. The lists equal ``chunk_values`` of the
    same values (ADR 011).
    """

    def __init__(self, *, max_lists: int = 512) -> None:
        self._max = max_lists
        self._population_chunker = Chunker(_value_text, cut=cuts_after, max_chars=MAX_CHUNK_CHARS)
        self._items_chunker = Chunker(_value_text, cut=cuts_after, max_chars=MAX_CHUNK_CHARS)
        # (organization, list) → the population it was (population lists), its cutting, and
        # the chunked list made of it
        self._held: OrderedDict[tuple[str, str], tuple[Population | None, Cutting, ChunkedList]] = (
            OrderedDict()
        )
        self.populations_chunked = 0  # counters for tests and benchmarks

    @property
    def items_serialised(self) -> int:
        """Population items serialised so far (those of the chunks cut)."""
        return self._population_chunker.texts_made

    @property
    def check_items_serialised(self) -> int:
        """Failing and excepted items serialised so far (those of the chunks cut)."""
        return self._items_chunker.texts_made

    def chunked(self, organization_id: str, population: Population) -> ChunkedList:
        """The population's items as a chunked list."""
        key = (organization_id, f"population:{population.kind}")
        held = self._held.get(key)
        if held is not None and held[0] is population:
            self._held.move_to_end(key)
            return held[2]
        self.populations_chunked += 1
        return self._cut(self._population_chunker, key, population, population.items)

    def items(
        self, organization_id: str, check_id: str, kind: str, items: Sequence[CheckItem]
    ) -> ChunkedList:
        """A check's failing or excepted items (``kind``) as a chunked list."""
        return self._cut(self._items_chunker, (organization_id, f"{kind}:{check_id}"), None, items)

    def stored(self, organization_id: str, lists: Sequence[ChunkedList]) -> None:
        """Every chunk of ``lists`` (made here) is stored now: drop their texts."""
        roots = {chunked.root for chunked in lists}
        done = [
            (key, held)
            for key, held in self._held.items()
            if key[0] == organization_id and held[2].root in roots and held[2].chunks
        ]
        for key, (population, cutting, _) in done:
            for piece in cutting.pieces:
                piece.text = None
            self._held[key] = (population, cutting, _listed(cutting))

    def _cut(
        self,
        chunker: Chunker,
        key: tuple[str, str],
        population: Population | None,
        items: Sequence[Any],
    ) -> ChunkedList:
        held = self._held.pop(key, None)
        cutting = chunker.recut(held[1] if held is not None else None, items)
        listed = _listed(cutting)
        self._held[key] = (population, cutting, listed)
        while len(self._held) > self._max:
            self._held.popitem(last=False)
        return listed


def _value_text(value: Any) -> str:
    """A value's canonical text (items as their JSON form)."""
    return canonical_json(value.to_json() if isinstance(value, CheckItem) else value)


def _manifest(cutting: Cutting) -> Blob:
    text = canonical_json(
        {
            "chunks": [{"count": p.count, "sha256": p.sha256} for p in cutting.pieces],
            "count": cutting.count,
            "format": FORMAT,
        }
    )
    return Blob(sha256_hex(text), text)


def _listed(cutting: Cutting) -> ChunkedList:
    """The chunked list of a cutting: its manifest and the chunks not stored yet."""
    manifest = _manifest(cutting)
    chunks = tuple(Blob(p.sha256, p.text) for p in cutting.pieces if p.text is not None)
    return ChunkedList(
        root=manifest.sha256,
        count=cutting.count,
        manifest=manifest,
        chunks=chunks,
        omitted=len(cutting.pieces) - len(chunks),
    )


@dataclass(eq=False, repr=False)
class EvidenceRecorder:
    """``RecordEvidence``: seal the evaluation into the organization's chain, return its id."""

    evidence: EvidenceService
    _: KW_ONLY
    integrations: IntegrationsRepo
    check_exceptions: CheckExceptionsRepo
    populations: PopulationChunks = field(default_factory=PopulationChunks)

    async def __call__(self, evaluation: Evaluation) -> str | None:
        """Append the changed evaluation; its id becomes the result's ``evidenceId``."""
        result = evaluation.result
        org = result.organization_id
        integration_id = await self._integration_of(org, result.snapshot_id)
        previous = evaluation.previous
        # The scalar fields (the items are chunked apart, from the items themselves).
        shared = replace(result, failing_items=(), excepted_items=()).to_json()
        exceptions = await self._exceptions(org, result, result.excepted_items)
        population = evaluation.population
        # CPU-bound for a large new population or many items: off the event loop.
        lists = await asyncio.to_thread(self._lists, org, population, result, exceptions)
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
        record = await self.evidence.record(
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
        self.populations.stored(org, lists)  # the record holds them: stored
        return record.id

    def _lists(
        self,
        organization_id: str,
        population: Population,
        result: CheckResult,
        exceptions: Sequence[Mapping[str, Any]],
    ) -> tuple[ChunkedList, ChunkedList, ChunkedList, ChunkedList]:
        """The record's lists, chunked: population items, failing, excepted, exceptions."""
        lists = self.populations
        check_id = result.check_id
        return (
            lists.chunked(organization_id, population),
            lists.items(organization_id, check_id, "failing", result.failing_items),
            lists.items(organization_id, check_id, "excepted", result.excepted_items),
            chunk_values(exceptions),
        )

    async def _integration_of(self, organization_id: str, snapshot_id: str | None) -> str | None:
        if snapshot_id is None:
            return None
        integrations = await self.integrations.list_by_organization(organization_id=organization_id)
        return next((i.id for i in integrations if i.current_snapshot_id == snapshot_id), None)

    async def _exceptions(
        self, organization_id: str, result: CheckResult, excepted: Sequence[CheckItem]
    ) -> list[Mapping[str, Any]]:
        if not excepted:
            return []
        wanted = {i.resource_id for i in excepted}
        active = await self.check_exceptions.active(
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
