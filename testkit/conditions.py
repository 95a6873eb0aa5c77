"""Waiting for a condition instead of sleeping: tests and benchmarks synchronise on what they
observe."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def until(
    check: Callable[[], Awaitable[T]], *, what: str, timeout: float = ..., interval: float = ...
) -> T: ...


@overload
async def until(
    check: Callable[[], T], *, what: str, timeout: float = ..., interval: float = ...
) -> T: ...


async def until(
    check: Callable[[], Any],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.01,
) -> Any:
    """The first truthy result of ``check`` (sync or async), polled every ``interval``.

    ``timeout`` only bounds a broken test (it is never the expected wait): the condition is
    what the test synchronises on.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(interval)
