"""The base of a collection whose writes are stamped with one revision counter's seqs
(``revisions``): people and identities. Read whole or since a seq through its checkpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

from services.models import RevisionState
from services.store.packs import PACK_FROM, Checkpoints
from services.store.revisions import RevisionRepository

T = TypeVar("T")


class RevisionedRepository(Generic[T]):
    """One organization's documents of ``collection``, each stamped with the ``seq`` its
    write reserved from the ``revision`` counter, and read back as ``to`` makes them."""

    def __init__(
        self,
        db: Any,
        revisions: RevisionRepository,
        *,
        collection: str,
        revision: str,
        to: Callable[[Mapping[str, Any]], T],
    ) -> None:
        self._col = db[collection]
        self._revision = revision
        self._revisions = revisions
        self._to = to
        self.checkpoints = Checkpoints(
            db, collection, revision=revision, revisions=revisions, pack_from=PACK_FROM
        )

    async def list_changed(self, *, organization_id: str, after_seq: int) -> list[tuple[int, T]]:
        """What was written after revision ``after_seq`` (all for 0), with its ``seq``."""
        changed = await self.checkpoints.changed(organization_id, after_seq)
        to = self._to
        return [(int(d["seq"]), to(d)) for d in changed]

    async def list_current(self, *, organization_id: str) -> list[tuple[int, T]]:
        """Everything with its ``seq``, read from the organization's checkpoint (ADR 026)."""
        current = await self.checkpoints.current(organization_id)
        to = self._to
        return [(int(d["seq"]), to(d)) for d in current]

    async def revision(self, *, organization_id: str) -> RevisionState:
        """The organization's revision of the collection (and whether a write is in progress)."""
        return await self._revisions.state(organization_id=organization_id, name=self._revision)

    @asynccontextmanager
    async def _reserved(self, organization_id: str, count: int = 1) -> AsyncIterator[int]:
        """The first of ``count`` seqs reserved for a write; the writer is registered until
        the block ends (readers do not move past a write at work)."""
        reserved = await self._revisions.reserve(
            organization_id=organization_id, name=self._revision, count=count
        )
        try:
            yield reserved.first
        finally:
            await self._revisions.release(
                organization_id=organization_id, name=self._revision, token=reserved.token
            )


__all__ = ["RevisionedRepository"]
