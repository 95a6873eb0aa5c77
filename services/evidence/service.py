"""Hash-chained, append-only evidence of check outcomes (SPEC §6.2, ADR 006, ADR 011).

``record`` stores the entry's chunked lists (the blobs not stored yet), then appends one
sealed record at the end of the organization's chain: a record never refers to a list that
is not stored. Concurrent appenders (tasks or processes) race for the next sequence; the
unique index lets exactly one win and the others re-read the tail and retry, so the chain
never forks. Nothing here (or in the repositories) updates or deletes a record or a chunk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import replace
from typing import Any, Protocol

from services.clock import Clock, utcnow_ms
from services.errors import Conflict, NotFound, ValidationFailed
from services.evidence.chain import GENESIS_HASH, EvidenceKey, iso_utc, seal
from services.evidence.chain import chunked as chunked_format
from services.evidence.chunks import (
    ChunkProblem,
    ChunkStore,
    ListReader,
    ListRef,
    chunk_values,
    expand,
    refs_of,
)
from services.evidence.export import (
    EXPORT_FORMAT,
    EvidenceExport,
    ExportFormat,
    csv_chunks,
    json_chunks,
)
from services.evidence.models import (
    AlreadyRecorded,
    ChainHead,
    EvidenceEntry,
    EvidenceRecord,
    SequenceTaken,
)
from services.evidence.verify import (
    BrokenLink,
    ChainStatus,
    ChainVerifier,
    chunk_problem,
    dangling_reference,
)
from services.ids import new_id
from services.integrations.models import Integration
from services.models import Action, Principal
from services.paging import Slice, decode_cursor, make_slice, page_size

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# (check id, evidence record id) of every current check result of an organization.
Anchors = Callable[[str], Awaitable[list[tuple[str, str]]]]
# Who an actor id is, as evidence records it: (organization id, actor id) -> actor.
DescribeActor = Callable[[str, str], Awaitable[Mapping[str, Any]]]
MAX_ATTEMPTS = 50
CHECKPOINT_FORMAT = "vigil-evidence-checkpoint/1"
# Lists this process stored (organization, root): appending another record over the same
# population costs no round trip at all.
STORED_ROOTS = 1024
# Records verified together: their lists' blobs are read ahead in a few round trips.
VERIFY_WINDOW = 64


class EvidenceRepo(Protocol):
    """The ``EvidenceRepository`` methods ``EvidenceService`` calls (append-only: no update)."""

    async def append(self, record: EvidenceRecord) -> None: ...
    async def last(self, *, organization_id: str) -> EvidenceRecord | None: ...
    async def get(self, *, organization_id: str, record_id: str) -> EvidenceRecord | None: ...
    async def list_for_check(
        self, *, organization_id: str, check_id: str, limit: int, before: int | None
    ) -> list[EvidenceRecord]: ...
    async def count_for_check(self, *, organization_id: str, check_id: str) -> int: ...
    def iter_chain(self, *, organization_id: str) -> AsyncIterator[EvidenceRecord]: ...
    def iter_for_check(
        self, *, organization_id: str, check_id: str
    ) -> AsyncIterator[EvidenceRecord]: ...
    async def head(self, *, organization_id: str) -> ChainHead | None: ...
    async def advance_head(
        self, *, organization_id: str, sequence: int, sha256: str, hmac: str
    ) -> None: ...


class EvidenceService:
    """Appends, lists, verifies and exports an organization's evidence."""

    def __init__(
        self,
        repo: EvidenceRepo,
        key: EvidenceKey,
        *,
        chunks: ChunkStore,
        check_ids: Callable[[], Collection[str]],
        anchors: Anchors | None = None,
        actors: DescribeActor | None = None,
        clock: Clock = utcnow_ms,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._repo = repo
        self._actors = actors
        self._key = key
        self._chunks = chunks
        self._check_ids = check_ids
        self._anchors = anchors
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}
        self._stored: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.blobs_written = 0  # for tests and benchmarks

    async def record(self, entry: EvidenceEntry) -> EvidenceRecord:
        """Store ``entry``'s lists, then seal it as the next record of its organization's chain
        (its ``actor_id`` described as who acted).

        An entry with a ``unique_key`` is recorded at most once: its record id is derived
        from the key, so when that record is already stored (a writer that died before it
        could say so) it is returned and nothing is appended — the store's unique ``_id``
        decides, across processes."""
        if entry.actor is None and entry.actor_id is not None and self._actors is not None:
            actor = await self._actors(entry.organization_id, entry.actor_id)
            entry = replace(entry, actor=actor)
        await self._store_lists(entry)
        record_id = keyed_record_id(entry) if entry.unique_key is not None else None
        lock = self._locks.setdefault(entry.organization_id, asyncio.Lock())
        async with lock:  # in-process appenders queue; other processes are caught by the index
            if record_id is not None:
                known = await self._repo.get(
                    organization_id=entry.organization_id, record_id=record_id
                )
                if known is not None:
                    return known
            for attempt in range(MAX_ATTEMPTS):
                last = await self._repo.last(organization_id=entry.organization_id)
                # Hashing a large body is CPU-bound: off the event loop.
                record = await asyncio.to_thread(
                    seal,
                    entry,
                    record_id=record_id or new_id("evd"),
                    sequence=last.sequence + 1 if last else 1,
                    prev_hash=last.sha256 if last else GENESIS_HASH,
                    recorded_at=self._clock(),
                    key=self._key,
                )
                try:
                    await self._repo.append(record)
                except AlreadyRecorded:
                    known = await self._repo.get(
                        organization_id=entry.organization_id, record_id=record.id
                    )
                    if known is None:  # another organization's record: ids never collide
                        raise Conflict("evidence record id taken") from None
                    return known
                except SequenceTaken:
                    await self._sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                await self._repo.advance_head(
                    organization_id=record.organization_id,
                    sequence=record.sequence,
                    sha256=record.sha256,
                    hmac=self._key.sign_head(
                        record.organization_id, record.sequence, record.sha256
                    ),
                )
                return record
        raise Conflict("evidence could not be appended: too many concurrent writers")

    async def record_action(self, action: Action) -> EvidenceRecord:
        """Seal a decision (who, what, when, about which items) into the chain, under the
        check it concerns."""
        subjects = chunk_values([{"resourceId": s} for s in action.subjects])
        return await self.record(
            EvidenceEntry(
                organization_id=action.organization_id,
                check_id=action.check_id,
                evaluated_at=action.at,
                result={"kind": action.kind, **action.details},
                population={"kind": action.kind, "items": subjects.ref()},
                lists=(subjects,),
                actor=action.actor,
            )
        )

    async def _store_lists(self, entry: EvidenceEntry) -> None:
        org = entry.organization_id
        given = {chunked.root for chunked in entry.lists}
        body = {"result": entry.result, "population": entry.population}
        for place, ref in refs_of(body):
            if ref is None or ref.root not in given:
                raise ValueError(f"evidence entry without its list at {place}")
        for chunked in entry.lists:
            if (org, chunked.root) in self._stored:
                self._stored.move_to_end((org, chunked.root))
                continue
            self.blobs_written += await self._chunks.put(org, chunked.blobs())
            self._stored[(org, chunked.root)] = None
            while len(self._stored) > STORED_ROOTS:
                self._stored.popitem(last=False)

    async def page(
        self, principal: Principal, check_id: str, first: int | None, after: str | None
    ) -> Slice[EvidenceRecord]:
        """A check's records, newest first (Relay paging by sequence)."""
        self._known(check_id)
        limit, before = page_size(first), _sequence_cursor(after)
        org = principal.organization_id
        rows = await self._repo.list_for_check(
            organization_id=org, check_id=check_id, limit=limit + 1, before=before
        )
        total = await self._repo.count_for_check(organization_id=org, check_id=check_id)
        return make_slice(rows, limit=limit, total=total, key=lambda r: str(r.sequence))

    async def get(self, principal: Principal, record_id: str) -> EvidenceRecord | None:
        """One record of the caller's organization."""
        return await self._repo.get(organization_id=principal.organization_id, record_id=record_id)

    async def expanded(self, principal: Principal, record: EvidenceRecord) -> dict[str, Any]:
        """The record's body with its lists read back from their chunks (checked; a missing
        or changed chunk raises ``ChunkProblem``): what a format-1 body held inline."""
        if record.organization_id != principal.organization_id:
            raise NotFound(f"evidence {record.id} not found")
        return await expand(record.content(), ListReader(self._chunks, record.organization_id))

    async def verify(
        self, principal: Principal, checkpoint: Mapping[str, Any] | None = None
    ) -> ChainStatus:
        """Walk the caller's organization's whole chain; report the first broken link.

        Beyond the records and the sealed head: every current check result must point at a
        record of the verified chain, and a ``checkpoint`` (from ``checkpoint``), when given,
        must match the record at its sequence.
        """
        org = principal.organization_id
        verifier = ChainVerifier(
            self._key,
            org,
            head=await self._repo.head(organization_id=org),
            checkpoint=_parse_checkpoint(checkpoint, org) if checkpoint is not None else None,
        )
        lists = ListReader(self._chunks, org)
        window: list[EvidenceRecord] = []
        async for record in self._repo.iter_chain(organization_id=org):
            window.append(record)
            if len(window) >= VERIFY_WINDOW and not await _verify_window(verifier, lists, window):
                break
        else:
            await _verify_window(verifier, lists, window)
        status = verifier.finish()
        if status.valid and self._anchors is not None:
            status = await self._check_anchors(org, status)
        if status.broken is not None:
            log.warning(
                "evidence chain of %s broken at #%d: %s",
                org,
                status.broken.sequence,
                status.broken.problem.value,
            )
        return status

    async def actors_summary(self, principal: Principal) -> list[str]:
        """Who caused the organization's records (format 3), one line each with a count:
        ``Ada Lovelace <ada@acme.example> (PERSON, Atlassian 5570…): 3 records``."""
        counts: dict[str, int] = {}
        async for record in self._repo.iter_chain(organization_id=principal.organization_id):
            actor = record.content().get("actor")
            if isinstance(actor, dict) and actor.get("kind") != "SYSTEM":
                line = _actor_line(actor)
                counts[line] = counts.get(line, 0) + 1
        return [f"{line}: {n} record{'s' if n != 1 else ''}" for line, n in counts.items()]

    async def _check_anchors(self, org: str, status: ChainStatus) -> ChainStatus:
        assert self._anchors is not None
        for check_id, record_id in sorted(await self._anchors(org)):
            record = await self._repo.get(organization_id=org, record_id=record_id)
            if record is None or record.sequence > status.head_sequence:
                broken = dangling_reference(check_id, record_id, status.head_sequence)
                return replace(status, valid=False, broken=broken)
        return status

    async def checkpoint(self, organization_id: str) -> dict[str, Any] | None:
        """A signed statement of the chain's head now, to keep outside the database."""
        last = await self._repo.last(organization_id=organization_id)
        if last is None:
            return None
        return {
            "format": CHECKPOINT_FORMAT,
            "organizationId": organization_id,
            "sequence": last.sequence,
            "sha256": last.sha256,
            "createdAt": iso_utc(self._clock()),
            "keyId": self._key.key_id,
            "hmac": self._key.sign_head(organization_id, last.sequence, last.sha256),
        }

    async def log_checkpoints(
        self, organization_ids: Callable[[], Awaitable[list[str]]], interval: float
    ) -> None:
        """Forever: every ``interval`` seconds, log each organization's signed checkpoint.

        Log lines usually leave the machine (a log service, a SIEM): there the checkpoints
        outlive a database rollback and can be handed to ``vigil evidence verify``.
        """
        while True:
            await self._sleep(interval)
            try:
                for org in await organization_ids():
                    point = await self.checkpoint(org)
                    if point is not None:
                        log.info(
                            "evidence checkpoint %s",
                            json.dumps(point, sort_keys=True),
                            extra={"organization_id": org},
                        )
            except Exception:
                log.exception("logging evidence checkpoints failed; trying again later")

    def check_export(self, check_id: str, fmt: str) -> ExportFormat:
        """The format of a valid export request (``ValidationFailed`` / ``NotFound``)."""
        try:
            kind = ExportFormat(fmt.lower())
        except ValueError:
            raise ValidationFailed("format must be json or csv", field=["format"]) from None
        self._known(check_id)
        return kind

    async def open_export(self, principal: Principal, check_id: str, fmt: str) -> EvidenceExport:
        """Validate an export request and prepare its stream (read lazily, by cursor)."""
        kind = self.check_export(check_id, fmt)
        org = principal.organization_id
        records = self._repo.iter_for_check(organization_id=org, check_id=check_id)
        name = f"evidence-{check_id}.{kind.value}"
        if kind is ExportFormat.CSV:
            return EvidenceExport("text/csv; charset=utf-8", name, csv_chunks(records))
        head = await self._repo.head(organization_id=org)
        lists = ListReader(self._chunks, org)
        header = {
            "format": EXPORT_FORMAT,
            "organizationId": org,
            "checkId": check_id,
            "exportedAt": iso_utc(self._clock()),
            "chainHead": {"sequence": head.sequence, "sha256": head.sha256} if head else None,
            "keyId": self._key.key_id,
        }
        return EvidenceExport("application/json", name, json_chunks(header, records, lists))

    def _known(self, check_id: str) -> None:
        if check_id not in self._check_ids():
            raise NotFound(f"check {check_id} not found", field=["checkId"])


async def _verify_window(
    verifier: ChainVerifier, lists: ListReader, window: list[EvidenceRecord]
) -> bool:
    """Verify consecutive records (emptying ``window``); False once the chain is broken."""
    records = [(r, _list_refs(r)) for r in window]
    window.clear()
    await lists.prefetch(ref for _, refs in records for _, ref in refs if ref is not None)
    for record, refs in records:
        broken = verifier.inspect(record)
        if broken is None and refs:
            broken = await _check_lists(lists, record, refs)
        if broken is not None:
            verifier.reject(broken)
            return False
        verifier.accept(record)
    return True


def _actor_line(actor: Mapping[str, Any]) -> str:
    name = actor.get("name") or actor.get("id")
    if actor.get("kind") == "PERSON":
        atlassian = actor.get("atlassianAccountId")
        extra = f", Atlassian account {atlassian}" if atlassian else ""
        return f"{name} <{actor.get('email')}> (person{extra})"
    return f"{name} (API key {actor.get('id')})"


def _list_refs(record: EvidenceRecord) -> list[tuple[str, ListRef | None]]:
    """The list references of a format-2 record (none for format 1)."""
    body = record.content()
    return refs_of(body) if chunked_format(body.get("version")) else []


async def _check_lists(
    lists: ListReader, record: EvidenceRecord, refs: list[tuple[str, ListRef | None]]
) -> BrokenLink | None:
    """The first list of a format-2 record that cannot be read back as sealed."""
    for place, ref in refs:
        assert ref is not None  # ``ChainVerifier.inspect`` found every reference
        try:
            await lists.check(ref)
        except ChunkProblem as problem:
            return chunk_problem(record, place, problem.message, missing=problem.missing)
    return None


def keyed_record_id(entry: EvidenceEntry) -> str:
    """The record id of an entry with a ``unique_key``: the same key, the same id."""
    raw = f"{entry.organization_id}\x1f{entry.unique_key}".encode()
    return "evd_" + hashlib.sha256(raw).hexdigest()[:32]


def _parse_checkpoint(value: Mapping[str, Any], organization_id: str) -> ChainHead:
    sequence, sha256, signature = value.get("sequence"), value.get("sha256"), value.get("hmac")
    if (
        value.get("format") != CHECKPOINT_FORMAT
        or not isinstance(sequence, int)
        or sequence < 1
        or not isinstance(sha256, str)
        or not isinstance(signature, str)
    ):
        raise ValidationFailed("not a Vigil evidence checkpoint", field=["checkpoint"])
    if value.get("organizationId") != organization_id:
        raise ValidationFailed(
            "the checkpoint belongs to another organization", field=["checkpoint"]
        )
    return ChainHead(sequence=sequence, sha256=sha256, hmac=signature)


def _sequence_cursor(after: str | None) -> int | None:
    key = decode_cursor(after)
    if key is None:
        return None
    if not key.isdigit():
        raise ValidationFailed("after is not a valid cursor", field=["after"])
    return int(key)


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``EvidencedSnapshots`` calls."""

    async def get_by_id(self, *, integration_id: str) -> Integration | None: ...


class EvidenceRecordsRepo(Protocol):
    """The ``EvidenceRepository`` methods ``EvidencedSnapshots`` calls."""

    async def snapshot_ids(self, *, organization_id: str) -> set[str]: ...


class EvidencedSnapshots:
    """Snapshot retention's ``ProtectedSnapshots``: every snapshot evidence points to."""

    def __init__(self, *, integrations: IntegrationsRepo, evidence: EvidenceRecordsRepo) -> None:
        self._integrations = integrations
        self._evidence = evidence

    async def protected_snapshot_ids(self, integration_id: str) -> set[str]:
        """The snapshots any evidence record of the integration's organization refers to."""
        integration = await self._integrations.get_by_id(integration_id=integration_id)
        if integration is None:
            return set()
        return await self._evidence.snapshot_ids(organization_id=integration.organization_id)
