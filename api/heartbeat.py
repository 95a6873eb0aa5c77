"""The worker's heartbeat: a file rewritten after every completed scheduler tick.

A container health check runs ``python -m api.heartbeat FILE MAX_AGE_SECONDS``: it exits 0
when the file was written less than MAX_AGE_SECONDS ago, 1 otherwise (missing, unreadable or
stale: the worker is stuck, cannot reach the database, or is not running).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

from services.clock import utcnow


class Heartbeat:
    """Writes ``{"pid", "ticks", "at"}`` to ``path`` atomically (write, then rename)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def beat(self, ticks: int) -> None:
        """Record that ``ticks`` scheduler ticks have completed, now."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        beat = {"pid": os.getpid(), "ticks": ticks, "at": utcnow().isoformat()}
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        partial.write_text(json.dumps(beat), encoding="utf-8")
        partial.replace(self.path)


def read(path: str | os.PathLike[str]) -> dict[str, object] | None:
    """The last heartbeat written to ``path``, or None when there is none (yet)."""
    try:
        beat: dict[str, object] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return beat


def age_seconds(path: str | os.PathLike[str], now: datetime | None = None) -> float | None:
    """Seconds since the last heartbeat, or None when there is none."""
    beat = read(path)
    if beat is None or not isinstance(beat.get("at"), str):
        return None
    try:
        at = datetime.fromisoformat(str(beat["at"]))
    except ValueError:
        return None
    return ((now or utcnow()) - at).total_seconds()


def main(argv: list[str]) -> int:
    """``FILE MAX_AGE_SECONDS`` → exit 0 when fresh, 1 when missing or stale, 2 on bad usage."""
    if len(argv) != 2:
        print("usage: python -m api.heartbeat FILE MAX_AGE_SECONDS", file=sys.stderr)
        return 2
    try:
        max_age = float(argv[1])
    except ValueError:
        print("MAX_AGE_SECONDS must be a number", file=sys.stderr)
        return 2
    age = age_seconds(argv[0])
    if age is None:
        print(f"no heartbeat in {argv[0]}", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"last heartbeat {age:.0f}s ago (more than {max_age:g}s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
