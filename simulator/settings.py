"""A frozen dataclass of settings that tests change while the server runs (faults, behaviour)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

C = TypeVar("C", bound="DataclassInstance")


class LiveSettings(Generic[C]):
    """The current `config` (a frozen dataclass), replaced whole under a lock on each change.

    `what` names the settings in the error for an unknown name ("fault settings").
    """

    def __init__(self, config: C, what: str) -> None:
        self._lock = threading.Lock()
        self.config = config
        self._what = what
        self._names = frozenset(f.name for f in fields(config))

    def _prepare(self, changes: dict[str, Any]) -> dict[str, Any]:
        """The changes as the config's fields take them (a subclass may convert values)."""
        return changes

    def configure(self, **changes: Any) -> C:
        """Change some settings (the config's field names); returns the new config."""
        unknown = set(changes) - self._names
        if unknown:
            raise TypeError(f"unknown {self._what}: {sorted(unknown)}")
        changes = self._prepare(changes)
        with self._lock:
            self.config = replace(self.config, **changes)
            return self.config

    @contextmanager
    def override(self, **changes: Any) -> Iterator[C]:
        """Temporarily change settings; the previous ones come back after."""
        with self._lock:
            saved = self.config
        try:
            yield self.configure(**changes)
        finally:
            with self._lock:
                self.config = saved
