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
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any, Protocol

from services.clock import Clock, Sleep, utcnow_ms
from services.errors import Conflict, NotFound, ValidationFailed
from services.evidence.chain import GENESIS_HASH, EvidenceKey, iso_utc, seal
from services.evidence.chain import chunked as chunked_format
from services.evidence.checkpoints import CheckpointSink, KeptCheckpoints
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
from services.evidence.keys import EvidenceSigner
from services.evidence.models import (
    REMEDIATION_ACTION,
    AlreadyRecorded,
    Anchor,
    ChainHead,
    EvidenceEntry,
    EvidenceRecord,
    SequenceTaken,
)
from services.evidence.signing import verify_signature
from services.evidence.verify import (
    BrokenLink,
    ChainStatus,
    ChainVerifier,
    LinkProblem,
    chunk_problem,
    dangling_reference,
    orphaned_record,
)
from services.ids import new_id
from services.integrations.models import Integration
from services.models import Action, Principal
from services.paging import Slice, decode_cursor, make_slice, page_size

log = logging.getLogger(__name__)

# Every reference into an organization's chain from outside it: each check's current result,
# each remediation action (with its evidence record id, or None while it is not recorded).
Anchors = Callable[[str], Awaitable[list[Anchor]]]
# Who an actor id is, as evidence records it: (organization id, actor id) -> actor.
DescribeActor = Callable[[str, str], Awaitable[Mapping[str, Any]]]
MAX_ATTEMPTS = 50
# A checkpoint sealed with the HMAC key only (ADR 008); still accepted.
CHECKPOINT_FORMAT_HMAC = "vigil-evidence-checkpoint/1"
# ... and also signed with the organization's Ed25519 key (ADR 021).
CHECKPOINT_FORMAT = "vigil-evidence-checkpoint/2"
CHECKPOINT_FORMATS = (CHECKPOINT_FORMAT_HMAC, CHECKPOINT_FORMAT)
# Lists this process stored (organization, root): appending another record over the same
# population costs no round trip at all.
STORED_ROOTS = 1024
# Records verified together: their lists' blobs are read ahead in a few round trips.
VERIFY_WINDOW = 64
# References into the chain looked up per round trip.
ANCHOR_BATCH = 500


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
    async def sequences(
        self, *, organization_id: str, record_ids: Sequence[str]
    ) -> dict[str, int]: ...
    async def head(self, *, organization_id: str) -> ChainHead | None: ...
    async def advance_head(
        self, *, organization_id: str, sequence: int, sha256: str, hmac: str
    ) -> None: ...


@dataclass(eq=False, repr=False)
class EvidenceService:
    """Appends, lists, verifies and exports an organization's evidence."""

    repo: EvidenceRepo
    key: EvidenceKey
    _: KW_ONLY
    chunks: ChunkStore
    check_ids: Callable[[], Collection[str]]
    anchors: Anchors | None = None
    actors: DescribeActor | None = None
    checkpoint_sinks: Sequence[CheckpointSink] = ()
    kept_checkpoints: KeptCheckpoints | None = None
    signer: EvidenceSigner | None = None
    clock: Clock = utcnow_ms
    sleep: Sleep = asyncio.sleep
    _sinks: tuple[CheckpointSink, ...] = field(init=False)
    # Deliveries to a sink that failed (logged as errors).
    checkpoints_failed: int = field(init=False, default=0)
    _locks: dict[str, asyncio.Lock] = field(init=False, default_factory=dict)
    _stored: OrderedDict[tuple[str, str], None] = field(init=False, default_factory=OrderedDict)
    blobs_written: int = field(init=False, default=0)  # for tests and benchmarks

    def __post_init__(self) -> None:
        self._sinks = tuple(self.checkpoint_sinks)

    async def record(self, entry: EvidenceEntry) -> EvidenceRecord:
        """Store ``entry``'s lists, then seal it as the next record of its organization's chain
        (its ``actor_id`` described as who acted).

        An entry with a ``unique_key`` is recorded at most once: its record id is derived
        from the key, so when that record is already stored (a writer that died before it
        could say so) it is returned and nothing is appended — the store's unique ``_id``
        decides, across processes."""
        if entry.actor is None and entry.actor_id is not None and self.actors is not None:
            actor = await self.actors(entry.organization_id, entry.actor_id)
            entry = replace(entry, actor=actor)
        await self._store_lists(entry)
        record_id = keyed_record_id(entry) if entry.unique_key is not None else None
        lock = self._locks.setdefault(entry.organization_id, asyncio.Lock())
        async with lock:  # in-process appenders queue; other processes are caught by the index
            if record_id is not None:
                known = await self.repo.get(
                    organization_id=entry.organization_id, record_id=record_id
                )
                if known is not None:
                    return known
            for attempt in range(MAX_ATTEMPTS):
                last = await self.repo.last(organization_id=entry.organization_id)
                # Hashing a large body is CPU-bound: off the event loop.
                record = await asyncio.to_thread(
                    seal,
                    entry,
                    record_id=record_id or new_id("evd"),
                    sequence=last.sequence + 1 if last else 1,
                    prev_hash=last.sha256 if last else GENESIS_HASH,
                    recorded_at=self.clock(),
                    key=self.key,
                )
                try:
                    await self.repo.append(record)
                except AlreadyRecorded:
                    known = await self.repo.get(
                        organization_id=entry.organization_id, record_id=record.id
                    )
                    if known is None:  # another organization's record: ids never collide
                        raise Conflict("evidence record id taken") from None
                    return known
                except SequenceTaken:
                    await self.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                await self.repo.advance_head(
                    organization_id=record.organization_id,
                    sequence=record.sequence,
                    sha256=record.sha256,
                    hmac=self.key.sign_head(record.organization_id, record.sequence, record.sha256),
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
            self.blobs_written += await self.chunks.put(org, chunked.blobs())
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
        rows = await self.repo.list_for_check(
            organization_id=org, check_id=check_id, limit=limit + 1, before=before
        )
        total = await self.repo.count_for_check(organization_id=org, check_id=check_id)
        return make_slice(rows, limit=limit, total=total, key=lambda r: str(r.sequence))

    async def get(self, principal: Principal, record_id: str) -> EvidenceRecord | None:
        """One record of the caller's organization."""
        return await self.repo.get(organization_id=principal.organization_id, record_id=record_id)

    async def expanded(self, principal: Principal, record: EvidenceRecord) -> dict[str, Any]:
        """The record's body with its lists read back from their chunks (checked; a missing
        or changed chunk raises ``ChunkProblem``): what a format-1 body held inline."""
        if record.organization_id != principal.organization_id:
            raise NotFound(f"evidence {record.id} not found")
        return await expand(record.content(), ListReader(self.chunks, record.organization_id))

    async def verify(
        self, principal: Principal, checkpoint: Mapping[str, Any] | None = None
    ) -> ChainStatus:
        """Walk the caller's organization's whole chain; report the first broken link.

        Beyond the records and the sealed head: every reference into the chain from outside
        (check results, remediation actions) must point at a record of the verified chain,
        every remediation record's action must still exist, and the chain must reach and
        agree with a ``checkpoint`` (from ``checkpoint``) when one is given and with the
        newest checkpoint kept outside the database (the worker's checkpoint file).
        """
        org = principal.organization_id
        given = [checkpoint] if checkpoint is not None else []
        kept = (
            await self.kept_checkpoints.latest(org) if self.kept_checkpoints is not None else None
        )
        given += [kept] if kept is not None else []
        points = [_parse_checkpoint(point, org) for point in given]
        unsigned = await self._unsigned(org, given)
        if unsigned is not None:
            return ChainStatus(valid=False, checked_count=0, head_sequence=0, broken=unsigned)
        verifier = ChainVerifier(
            self.key,
            org,
            head=await self.repo.head(organization_id=org),
            checkpoints=tuple(points),
        )
        lists = ListReader(self.chunks, org)
        window: list[EvidenceRecord] = []
        # action id → (sequence, record id) of the first record of each remediation action
        remediations: dict[str, tuple[int, str]] = {}
        async for record in self.repo.iter_chain(organization_id=org):
            window.append(record)
            action = _remediation_of(record)
            if action is not None:
                remediations.setdefault(action, (record.sequence, record.id))
            if len(window) >= VERIFY_WINDOW and not await _verify_window(verifier, lists, window):
                break
        else:
            await _verify_window(verifier, lists, window)
        status = verifier.finish()
        if status.valid and self.anchors is not None:
            status = await self._check_anchors(org, status, remediations)
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
        async for record in self.repo.iter_chain(organization_id=principal.organization_id):
            actor = record.content().get("actor")
            if isinstance(actor, dict) and actor.get("kind") != "SYSTEM":
                line = _actor_line(actor)
                counts[line] = counts.get(line, 0) + 1
        return [f"{line}: {n} record{'s' if n != 1 else ''}" for line, n in counts.items()]

    async def _unsigned(self, org: str, points: Sequence[Mapping[str, Any]]) -> BrokenLink | None:
        """A signed (format 2) checkpoint whose Ed25519 signature does not verify with one
        of the organization's keys."""
        signed = [p for p in points if p.get("format") == CHECKPOINT_FORMAT]
        if not signed:
            return None
        keys = await self.signer.public_keys(org) if self.signer is not None else []
        pems = {k.key_id: k.pem for k in keys}
        for point in signed:
            why = verify_signature(point, pems)
            if why is not None:
                sequence = point.get("sequence")
                return BrokenLink(
                    sequence=sequence if isinstance(sequence, int) else 0,
                    record_id=None,
                    problem=LinkProblem.HEAD_MISMATCH,
                    message=f"the checkpoint's signature is not valid: {why}",
                )
        return None

    async def _check_anchors(
        self, org: str, status: ChainStatus, remediations: Mapping[str, tuple[int, str]]
    ) -> ChainStatus:
        """Every reference both ways: what points into the chain must find its record there;
        a remediation record must still have its action."""
        assert self.anchors is not None
        anchors = await self.anchors(org)
        referenced = sorted(
            (a for a in anchors if a.record_id is not None), key=lambda a: (a.kind, a.owner)
        )
        for start in range(0, len(referenced), ANCHOR_BATCH):
            batch = referenced[start : start + ANCHOR_BATCH]
            found = await self.repo.sequences(
                organization_id=org, record_ids=[a.record_id for a in batch if a.record_id]
            )
            for anchor in batch:
                assert anchor.record_id is not None
                sequence = found.get(anchor.record_id)
                if sequence is None or sequence > status.head_sequence:
                    broken = dangling_reference(
                        anchor.kind, anchor.owner, anchor.record_id, status.head_sequence
                    )
                    return replace(status, valid=False, broken=broken)
        actions = {a.owner for a in anchors if a.kind == REMEDIATION_ACTION}
        orphans = sorted(
            (at, action) for action, at in remediations.items() if action not in actions
        )
        if orphans:
            (sequence, record_id), action = orphans[0]
            broken = orphaned_record(sequence, record_id, REMEDIATION_ACTION, action)
            return replace(status, valid=False, broken=broken)
        return status

    @property
    def hmac_key_id(self) -> str:
        """The id of the HMAC key records are sealed with (never the key)."""
        return self.key.key_id

    async def public_key(self, principal: Principal) -> str:
        """The current public key (PEM) of the caller's organization's signing key."""
        if self.signer is None:
            raise NotFound("evidence signing is not configured")
        return await self.signer.public_pem(principal.organization_id)

    async def checkpoint(self, organization_id: str) -> dict[str, Any] | None:
        """A signed statement of the chain's head now, to keep outside the database."""
        last = await self.repo.last(organization_id=organization_id)
        if last is None:
            return None
        return await self.checkpoint_at(organization_id, last.sequence, last.sha256)

    async def checkpoint_at(
        self, organization_id: str, sequence: int, sha256: str
    ) -> dict[str, Any]:
        """A checkpoint of record ``sequence`` (hash ``sha256``): sealed with the HMAC key
        and, with a signer, signed with the organization's Ed25519 key (format 2)."""
        point: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT if self.signer is not None else CHECKPOINT_FORMAT_HMAC,
            "organizationId": organization_id,
            "sequence": sequence,
            "sha256": sha256,
            "createdAt": iso_utc(self.clock()),
            "keyId": self.key.key_id,
            "hmac": self.key.sign_head(organization_id, sequence, sha256),
        }
        if self.signer is None:
            return point
        return (await self.signer.key(organization_id)).signed(point)

    async def log_checkpoints(
        self, organization_ids: Callable[[], Awaitable[list[str]]], interval: float
    ) -> None:
        """Forever: every ``interval`` seconds, each organization's signed checkpoint is
        logged and sent to the configured sinks (a file, a webhook: off the database).

        A checkpoint outside the database outlives a rollback of it: ``verify`` reads the
        checkpoint file back, and any kept checkpoint can be handed to
        ``vigil evidence verify --checkpoint``. A sink that fails is logged as an error and
        counted (``checkpoints_failed``); the next round tries again.
        """
        while True:
            await self.sleep(interval)
            try:
                for org in await organization_ids():
                    point = await self.checkpoint(org)
                    if point is not None:
                        log.info(
                            "evidence checkpoint %s",
                            json.dumps(point, sort_keys=True),
                            extra={"organization_id": org},
                        )
                        await self._send(point)
            except Exception:
                log.exception("logging evidence checkpoints failed; trying again later")

    async def _send(self, point: Mapping[str, Any]) -> None:
        for sink in self._sinks:
            try:
                await sink.send(point)
            except Exception as exc:  # one sink's failure must not stop the others
                self.checkpoints_failed += 1
                log.error(
                    "sending the evidence checkpoint of %s to %s failed: %s",
                    point.get("organizationId"),
                    sink.name,
                    type(exc).__name__,
                )

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
        records = self.repo.iter_for_check(organization_id=org, check_id=check_id)
        name = f"evidence-{check_id}.{kind.value}"
        if kind is ExportFormat.CSV:
            return EvidenceExport("text/csv; charset=utf-8", name, csv_chunks(records))
        head = await self.repo.head(organization_id=org)
        lists = ListReader(self.chunks, org)
        header = {
            "format": EXPORT_FORMAT,
            "organizationId": org,
            "checkId": check_id,
            "exportedAt": iso_utc(self.clock()),
            "chainHead": {"sequence": head.sequence, "sha256": head.sha256} if head else None,
            "keyId": self.key.key_id,
        }
        return EvidenceExport("application/json", name, json_chunks(header, records, lists))

    def _known(self, check_id: str) -> None:
        if check_id not in self.check_ids():
            raise NotFound(f"check {check_id} not found", field=["checkId"])


def _remediation_of(record: EvidenceRecord) -> str | None:
    """The action id of a remediation record (``result.kind``), None for other records."""
    if '"kind":"remediation"' not in record.body:  # cheap: most records are check results
        return None
    result = record.content().get("result")
    if isinstance(result, dict) and result.get("kind") == "remediation":
        action = result.get("actionId")
        return action if isinstance(action, str) else None
    return None


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
        value.get("format") not in CHECKPOINT_FORMATS
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
