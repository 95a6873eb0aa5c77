"""What a re-evaluation covers: a whole data source, or some of its inputs.

A scope is a source name (``access``: every check of that source) or ``source:input``
(``access:people``: the checks of that source that read that input). A check says which
inputs of its source it reads with an optional ``reads`` attribute (a frozenset of input
names); a check without one is selected by any input of its source. A change made through
the API asks for the inputs it changed, so checks that do not read them are neither evaluated
nor touched; time-based transitions are the periodic evaluation's (every check).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


def scope(source: str, input_name: str) -> str:
    """The scope of one input of a source: ``access:people``."""
    return f"{source}:{input_name}"


def reads(check: Any) -> frozenset[str] | None:
    """The inputs a check declares it reads (None: all of its source's)."""
    declared = getattr(check, "reads", None)
    return frozenset(declared) if declared is not None else None


def selects(check: Any, scopes: Collection[str] | None) -> bool:
    """Whether a re-evaluation of ``scopes`` (None: everything) evaluates ``check``."""
    if scopes is None or check.source in scopes:
        return True
    prefix = f"{check.source}:"
    wanted = {s[len(prefix) :] for s in scopes if s.startswith(prefix)}
    if not wanted:
        return False
    declared = reads(check)
    return declared is None or not wanted.isdisjoint(declared)
