"""A small CQL subset: field =, !=, ~, IN, NOT IN; AND, OR, parentheses; ORDER BY."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from simulator.model import Page

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|=|~|\(|\)|,)"""
    r"""|(?P<word>[A-Za-z0-9_.:\-]+))"""
)
FIELDS = ("type", "label", "space", "space.key", "status", "title", "id")
Predicate = Callable[[Page], bool]


class CqlError(ValueError):
    """The CQL could not be parsed or uses something the simulator does not support."""


@dataclass(slots=True)
class Query:
    """A parsed CQL query."""

    predicate: Predicate
    mentions_status: bool
    order_by: str | None = None
    descending: bool = False

    def matches(self, page: Page) -> bool:
        """True when the page satisfies the query (current pages only unless status is used)."""
        if not self.mentions_status and page.status != "current":
            return False
        return self.predicate(page)


def _tokens(cql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(cql):
        if cql[pos:].strip() == "":
            break
        match = _TOKEN.match(cql, pos)
        if match is None:
            raise CqlError(f"unexpected character at {pos}")
        pos = match.end()
        if match.group("str") is not None:
            raw = match.group("str")[1:-1]
            out.append(("value", re.sub(r"\\(.)", r"\1", raw)))
        elif match.group("op") is not None:
            out.append(("op", match.group("op")))
        else:
            out.append(("word", match.group("word")))
    return out


def _field_value(page: Page, name: str) -> list[str]:
    if name == "type":
        return ["page"]
    if name == "label":
        return [label.casefold() for label in page.labels]
    if name in ("space", "space.key"):
        return [page.space_key.casefold()]
    if name == "status":
        return [page.status]
    if name == "id":
        return [page.page_id]
    return [page.title.casefold()]


class _Parser:
    def __init__(self, cql: str) -> None:
        self.tokens = _tokens(cql)
        self.pos = 0
        self.mentions_status = False

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise CqlError("unexpected end of query")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def expr(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda p: any(f(p) for f in parts))

    def conjunction(self) -> Predicate:
        parts = [self.clause()]
        while self.keyword("and"):
            parts.append(self.clause())
        return parts[0] if len(parts) == 1 else (lambda p: all(f(p) for f in parts))

    def value(self) -> str:
        kind, text = self.take()
        if kind == "op":
            raise CqlError(f"expected a value, got {text!r}")
        return text.casefold()

    def values(self) -> list[str]:
        if self.take() != ("op", "("):
            raise CqlError("expected '(' after IN")
        items = [self.value()]
        while self.peek() == ("op", ","):
            self.take()
            items.append(self.value())
        if self.take() != ("op", ")"):
            raise CqlError("expected ')'")
        return items

    def clause(self) -> Predicate:
        if self.peek() == ("op", "("):
            self.take()
            inner = self.expr()
            if self.take() != ("op", ")"):
                raise CqlError("expected ')'")
            return inner
        kind, name = self.take()
        name = name.lower()
        if kind != "word" or name not in FIELDS:
            raise CqlError(f"unsupported field {name!r}")
        self.mentions_status |= name == "status"
        negate = self.keyword("not")
        if self.keyword("in"):
            wanted = set(self.values())
            return lambda p: bool(wanted & set(_field_value(p, name))) != negate
        if negate:
            raise CqlError("expected IN after NOT")
        op = self.take()
        if op[0] != "op" or op[1] not in ("=", "!=", "~"):
            raise CqlError(f"unsupported operator {op[1]!r}")
        value = self.value()
        if op[1] == "~":
            return lambda p: any(value in v for v in _field_value(p, name))
        equal = op[1] == "="
        return lambda p: (value in _field_value(p, name)) == equal


def parse_cql(cql: str) -> Query:
    """Parse a CQL string; raises CqlError on anything unsupported."""
    parts = re.split(r"\border\s+by\b", cql, maxsplit=1, flags=re.IGNORECASE)
    text = parts[0]
    parser = _Parser(text)
    if not parser.tokens:
        raise CqlError("empty query")
    predicate = parser.expr()
    leftover = parser.peek()
    if leftover is not None:
        raise CqlError(f"unexpected {leftover[1]!r}")
    query = Query(predicate, parser.mentions_status)
    if len(parts) == 2:
        words = parts[1].split()
        if not words or words[0].lower() not in ("title", "created", "lastmodified", "id"):
            raise CqlError("unsupported ORDER BY")
        query.order_by = words[0].lower()
        query.descending = len(words) > 1 and words[1].lower() == "desc"
    return query


def sort_key(order_by: str) -> Callable[[Page], object]:
    """The sort key for an ORDER BY field."""
    keys: dict[str, Callable[[Page], object]] = {
        "title": lambda p: p.title.casefold(),
        "created": lambda p: p.created_at,
        "lastmodified": lambda p: p.last_modified,
        "id": lambda p: int(p.page_id),
    }
    return keys[order_by]
