"""`vigil sync`'s progress line on an 80-column terminal keeps its elapsed time whole."""

from __future__ import annotations

import io
import re

from rich.console import Console

from api.sync_cli import _progress


def _render(width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    progress = _progress(console)
    progress.add_task("memberships", total=None, requests=12345, items=123456, retries=12, waits=3)
    console.print(progress.make_tasks_table(progress.tasks))
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return text


def test_eighty_columns_show_the_whole_line() -> None:
    line = _render(80)
    assert re.search(r"\b\d+:\d\d:\d\d\b", line), line
    assert "…" not in line, line
    assert "12345 requests · 123456 items · 12 retries · 3 waits" in line


def test_narrower_terminals_crop_counters_never_the_time() -> None:
    for width in (40, 60):
        assert re.search(r"\b\d+:\d\d:\d\d\b", _render(width)), width
