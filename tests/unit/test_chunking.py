"""Re-cutting a changed sequence gives exactly the chunks a cut from scratch gives, keeping the
unchanged chunks (services/chunking.py)."""

from __future__ import annotations

import random

from services.chunking import Chunker, Cutting
from services.evidence.chain import canonical_json
from services.evidence.chunks import chunk_texts, cuts_after


class Item:
    """An immutable value whose text is given (objects compare by identity, like items
    rebuilt only where they changed)."""

    def __init__(self, text: str) -> None:
        self.text = text


def chunker(max_chars: int = 300, max_count: int | None = None) -> Chunker:
    return Chunker(
        lambda i: i.text,
        cut=lambda t: cuts_after(t, target=120),
        max_chars=max_chars,
        max_count=max_count,
    )


def shape(cutting: Cutting) -> list[tuple[str, int, int]]:
    return [(p.sha256, p.count, s) for p, s in zip(cutting.pieces, cutting.starts, strict=True)]


def edited(rng: random.Random, items: list[Item], edits: int) -> list[Item]:
    out = list(items)
    for _ in range(edits):
        i = rng.randrange(len(out) + 1)
        what = rng.random()
        new = Item(canonical_json({"v": rng.randrange(10**6), "pad": "x" * rng.randrange(60)}))
        if what < 0.4 and i < len(out):
            out[i] = new
        elif what < 0.7 or not out:
            out.insert(i, new)
        elif i < len(out):
            del out[i]
    return out


def test_a_recut_equals_a_cut_from_scratch_after_random_edits() -> None:
    rng = random.Random(24)
    for max_count in (None, 7):
        cut = chunker(max_count=max_count)
        items = [Item(canonical_json({"v": i, "pad": "y" * (i % 50)})) for i in range(400)]
        held = cut.cut(items)
        for _ in range(60):
            edits = rng.randrange(1, 4)
            items = edited(rng, items, edits)
            before, made = held, cut.texts_made
            held = cut.recut(before, items)
            assert shape(held) == shape(chunker(max_count=max_count).cut(items))
            kept = {id(p) for p in before.pieces} & {id(p) for p in held.pieces}
            new = len(held.pieces) - len(kept)
            assert new <= 4 * edits  # only the chunks around the edits are cut again...
            assert cut.texts_made - made <= 10 * (new + edits)  # ...and their items' texts


def test_the_evidence_rule_gives_the_chunks_of_chunk_texts() -> None:
    rng = random.Random(11)
    texts = [canonical_json({"i": i, "s": "z" * rng.randrange(300)}) for i in range(3000)]
    cut = Chunker(lambda t: t, cut=cuts_after, max_chars=4096)
    expected = chunk_texts(texts, max_chars=4096)
    cutting = cut.cut(texts)
    assert [p.sha256 for p in cutting.pieces] == [c.sha256 for c in expected.chunks]
    assert [p.text for p in cutting.pieces] == [c.text for c in expected.chunks]


def test_an_unchanged_sequence_is_not_cut_again() -> None:
    cut = chunker()
    items = tuple(Item(str(i)) for i in range(100))
    held = cut.cut(items)
    made = cut.texts_made
    assert cut.recut(held, items) is held
    again = cut.recut(held, list(items))  # the same objects in another sequence
    assert again.pieces == held.pieces and cut.texts_made == made
