"""Hash-chained, append-only evidence of check outcomes (SPEC §6.2, ADR 006).

``record`` appends one sealed record at the end of the organization's chain. Concurrent
appenders (tasks or processes) race for the next sequence; the unique index lets exactly
one win and the others re-read the tail and retry, so the chain never forks. Nothing here
(or in the repository) updates or deletes a record.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

from services.errors import Conflict, NotFound, ValidationFailed
from services.evidence_chain import (
    GENESIS_HASH,
    EvidenceEntry,
    EvidenceKey,
    EvidenceRecord,
    SequenceTaken,
    iso_utc,
    seal,
)
from services.evidence_export import (
    EXPORT_FORMAT,
    EvidenceExport,
    ExportFormat,
    csv_chunks,
    json_chunks,
)
from services.evidence_verify import ChainStatus, ChainVerifier
from services.models import Principal
from services.paging import Slice, decode_cursor, make_slice, page_size
from services.store import Store
from services.store.common import new_id
from services.store.evidence import EvidenceRepository

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
MAX_ATTEMPTS = 50


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class EvidenceService:
    """Appends, lists, verifies and exports an organization's evidence."""

    def __init__(
        self,
        repo: EvidenceRepository,
        key: EvidenceKey,
        *,
        check_ids: Callable[[], Collection[str]],
        clock: Clock = _now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._repo = repo
        self._key = key
        self._check_ids = check_ids
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}

    async def record(self, entry: EvidenceEntry) -> EvidenceRecord:
        """Seal ``entry`` as the next record of its organization's chain."""
        lock = self._locks.setdefault(entry.organization_id, asyncio.Lock())
        async with lock:  # in-process appenders queue; other processes are caught by the index
            for attempt in range(MAX_ATTEMPTS):
                last = await self._repo.last(organization_id=entry.organization_id)
                record = seal(
                    entry,
                    record_id=new_id("evd"),
                    sequence=last.sequence + 1 if last else 1,
                    prev_hash=last.sha256 if last else GENESIS_HASH,
                    recorded_at=self._clock(),
                    key=self._key,
                )
                try:
                    await self._repo.append(record)
                except SequenceTaken:
                    await self._sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                await self._repo.advance_head(
                    organization_id=record.organization_id,
                    sequence=record.sequence,
                    sha256=record.sha256,
                )
                return record
        raise Conflict("evidence could not be appended: too many concurrent writers")

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

    async def verify(self, principal: Principal) -> ChainStatus:
        """Walk the caller's organization's whole chain; report the first broken link."""
        org = principal.organization_id
        verifier = ChainVerifier(self._key, org, head=await self._repo.head(organization_id=org))
        async for record in self._repo.iter_chain(organization_id=org):
            if not verifier.feed(record):
                break
        status = verifier.finish()
        if status.broken is not None:
            log.warning(
                "evidence chain of %s broken at #%d: %s",
                org,
                status.broken.sequence,
                status.broken.problem.value,
            )
        return status

    async def open_export(self, principal: Principal, check_id: str, fmt: str) -> EvidenceExport:
        """Validate an export request and prepare its stream (read lazily, by cursor)."""
        try:
            kind = ExportFormat(fmt.lower())
        except ValueError:
            raise ValidationFailed("format must be json or csv", field=["format"]) from None
        self._known(check_id)
        org = principal.organization_id
        records = self._repo.iter_for_check(organization_id=org, check_id=check_id)
        name = f"evidence-{check_id}.{kind.value}"
        if kind is ExportFormat.CSV:
            return EvidenceExport("text/csv; charset=utf-8", name, csv_chunks(records))
        head = await self._repo.head(organization_id=org)
        header = {
            "format": EXPORT_FORMAT,
            "organizationId": org,
            "checkId": check_id,
            "exportedAt": iso_utc(self._clock()),
            "chainHead": {"sequence": head.sequence, "sha256": head.sha256} if head else None,
            "keyId": self._key.key_id,
        }
        return EvidenceExport("application/json", name, json_chunks(header, records))

    def _known(self, check_id: str) -> None:
        if check_id not in self._check_ids():
            raise NotFound(f"check {check_id} not found", field=["checkId"])


def _sequence_cursor(after: str | None) -> int | None:
    key = decode_cursor(after)
    if key is None:
        return None
    if not key.isdigit():
        raise ValidationFailed("after is not a valid cursor", field=["after"])
    return int(key)


class EvidencedSnapshots:
    """Snapshot retention's ``ProtectedSnapshots``: every snapshot evidence points to."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def protected_snapshot_ids(self, integration_id: str) -> set[str]:
        """The snapshots any evidence record of the integration's organization refers to."""
        integration = await self._store.integrations.get_by_id(integration_id=integration_id)
        if integration is None:
            return set()
        return await self._store.evidence.snapshot_ids(organization_id=integration.organization_id)
