"""Change notifications between services (wired by the composition root)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

OnChange = Callable[[str], Awaitable[None]]
"""Told the id of an organization whose data changed (so its checks re-evaluate)."""


async def ignore_change(organization_id: str) -> None:
    """The default listener: nobody needs to know."""


OnReviewChange = Callable[[str, str], Awaitable[None]]
"""Told ``(organization_id, review_id)`` when a review started, an entry was decided, or it
was completed (``accessReviewChanged`` subscribers)."""


async def ignore_review_change(organization_id: str, review_id: str) -> None:
    """The default review listener: nobody needs to know."""
