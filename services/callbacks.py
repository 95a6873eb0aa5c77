"""The callback types a service reports a fact through (``on_<fact>`` parameters, wired by the
composition root to the ``after_<fact>`` reactions of ``services/reactions.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.models import Action

OnChange = Callable[[str], Awaitable[None]]
"""Told the id of an organization whose data changed (so its checks re-evaluate)."""


async def ignore_change(organization_id: str) -> None:
    """The default: nobody needs to know."""


OnReviewChange = Callable[[str, str], Awaitable[None]]
"""Told ``(organization_id, review_id)`` when a review started, an entry was decided, or it
was completed (``accessReviewChanged`` subscribers)."""


async def ignore_review_change(organization_id: str, review_id: str) -> None:
    """The default: nobody needs to know."""


OnAction = Callable[[Action], Awaitable[None]]
"""Told every decision a person or key made (the composition root records it as evidence)."""


async def ignore_action(action: Action) -> None:
    """The default: nothing is recorded."""
