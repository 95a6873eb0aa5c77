"""Cutting long sequences into content-defined chunks, and cutting them again after a change.

Evidence lists (ADR 011) and the items of check results are stored in chunks whose
boundaries follow content: a chunk ends after an item whose text says so (``cut``), or before
the item that would take it over ``max_chars`` characters (or ``max_count`` items). So a
sequence that changed in a few items shares every chunk but one or two with the one before.

``Chunker.recut(before, items)`` uses that: it walks the previous cutting chunk by chunk and
keeps every chunk whose items are the same objects at the same place of the new sequence
(unchanged items are the very same objects: the caller rebuilt only what changed), and cuts
again only from the start of a chunk that changed until the cutting is back on a boundary of
the previous one. The result always equals ``cut(items)`` (``tests/unit/test_chunking.py``):
at every chunk start both either keep a chunk the full cut would make identically, or run
the same rule. It costs one comparison of object references per chunk plus the texts of the
items of the chunks cut again, whatever the length of the sequence.

This module is a leaf: the store (check items) and evidence (lists) both use it.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import is_
from typing import Any

# Why a chunk ended: after an item whose text cuts; before an item that would take it over
# ``max_chars``; at ``max_count`` items; at the end of the sequence.
CUT, FULL, COUNT, END = "cut", "full", "count", "end"


def content_cut(target: int) -> Callable[[str], bool]:
    """A content-defined boundary rule: a chunk ends after an item whose CRC-32 falls under a
    threshold proportional to its length, so chunks hold about ``target`` characters on
    average (evidence's ``cuts_after`` with ``target``)."""

    def cut(text: str) -> bool:
        threshold = min(len(text) + 1, target) * (1 << 32) // target
        return zlib.crc32(text.encode("utf-8")) < threshold

    return cut


class Piece:
    """One chunk: its address (SHA-256 of ``text`` as UTF-8), how many items it holds and,
    until its holder drops it (once stored), its text: the JSON array of the items' texts."""

    __slots__ = ("count", "ended", "sha256", "text")

    def __init__(self, sha256: str, count: int, text: str | None, ended: str) -> None:
        self.sha256 = sha256
        self.count = count
        self.text = text
        self.ended = ended

    def __repr__(self) -> str:
        return f"Piece({self.sha256[:12]}…, {self.count}, {self.ended})"


@dataclass(frozen=True, slots=True)
class Cutting:
    """A sequence cut into pieces; ``starts`` holds each piece's first position. ``items`` is
    the sequence itself (the next ``recut`` compares with it by object)."""

    items: tuple[Any, ...]
    pieces: tuple[Piece, ...]
    starts: tuple[int, ...]

    @property
    def count(self) -> int:
        """How many items the sequence holds."""
        return len(self.items)

    def addresses(self) -> list[tuple[str, int]]:
        """``(sha256, count)`` of each piece, in order."""
        return [(p.sha256, p.count) for p in self.pieces]

    def piece_items(self, index: int) -> tuple[Any, ...]:
        """The items of piece ``index``."""
        start = self.starts[index]
        return self.items[start : start + self.pieces[index].count]


class Chunker:
    """Cuts sequences of items by one rule: ``text(item)`` is an item's text, ``cut(text)``
    whether a chunk ends after it; a chunk stays within ``max_chars`` characters (items and
    commas, as ``[a,b]`` less the brackets: a single longer item is a chunk of its own) and
    ``max_count`` items. ``keep_text=False`` leaves pieces without their text (only their
    address is needed)."""

    def __init__(
        self,
        text: Callable[[Any], str],
        *,
        cut: Callable[[str], bool],
        max_chars: int,
        max_count: int | None = None,
        keep_text: bool = True,
    ) -> None:
        self._text = text
        self._cut = cut
        self._max_chars = max_chars
        self._max_count = max_count
        self._keep_text = keep_text
        self.texts_made = 0  # items whose text was made (tests and benchmarks count them)

    def cut(self, items: Sequence[Any]) -> Cutting:
        """The cutting of ``items`` from scratch."""
        return self.recut(None, items)

    def recut(self, before: Cutting | None, items: Sequence[Any]) -> Cutting:
        """The cutting of ``items``, reusing ``before`` (a cutting by this same rule) wherever
        the same objects are at the same place; equal to ``cut(items)``."""
        seq = items if isinstance(items, tuple) else tuple(items)
        if before is not None and before.items is seq:
            return before
        pieces: list[Piece] = []
        starts: list[int] = []
        first_of: dict[int, int] | None = None  # id(first item) → piece of ``before``
        n, q, expected = len(seq), 0, 0
        while q < n:
            found = -1
            if before is not None:
                if expected < len(before.pieces) and _same(before, expected, seq, q):
                    found = expected
                else:
                    if first_of is None:
                        first_of = {id(before.items[s]): k for k, s in enumerate(before.starts)}
                    k = first_of.get(id(seq[q]), -1)
                    if k >= 0 and _same(before, k, seq, q):
                        found = k
            if found >= 0:
                assert before is not None
                piece = before.pieces[found]
                expected = found + 1
            else:
                piece = self._one(seq, q)
            pieces.append(piece)
            starts.append(q)
            q += piece.count
        return Cutting(seq, tuple(pieces), tuple(starts))

    def _one(self, seq: tuple[Any, ...], start: int) -> Piece:
        """The piece the rule cuts from ``start`` (a chunk boundary)."""
        texts: list[str] = []
        size, i, n = 0, start, len(seq)
        ended = END
        while i < n:
            text = self._text(seq[i])
            self.texts_made += 1
            if texts and size + len(text) + 1 > self._max_chars:
                ended = FULL
                break
            texts.append(text)
            size += len(text) + 1
            i += 1
            if self._cut(text):
                ended = CUT
                break
            if self._max_count is not None and len(texts) >= self._max_count:
                ended = COUNT
                break
        if ended is END and i < n:  # pragma: no cover - the loop ends only as set above
            ended = FULL
        joined = f"[{','.join(texts)}]"
        sha = hashlib.sha256(joined.encode("utf-8")).hexdigest()
        return Piece(sha, len(texts), joined if self._keep_text else None, ended)


def _same(before: Cutting, k: int, seq: tuple[Any, ...], q: int) -> bool:
    """Whether the full rule, started at ``q`` of ``seq``, would cut exactly piece ``k`` of
    ``before``: the same items there, and whatever decided where the piece ended unchanged
    (the item after it, for a piece closed because that item did not fit; the end of the
    sequence, for the last piece)."""
    piece = before.pieces[k]
    start, count = before.starts[k], piece.count
    if q + count > len(seq):
        return False
    old = before.items
    if not all(map(is_, seq[q : q + count], old[start : start + count])):
        return False
    if piece.ended == END:
        return q + count == len(seq)
    if piece.ended == FULL:
        return q + count < len(seq) and seq[q + count] is old[start + count]
    return True


__all__ = ["COUNT", "CUT", "END", "FULL", "Chunker", "Cutting", "Piece"]
