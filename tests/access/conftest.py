"""Background re-evaluations a test started finish before its store is dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.store import Store
from tests.access.support import CREATED


@pytest.fixture
async def store(store: Store) -> AsyncIterator[Store]:
    """The shared ``store`` fixture, settling this test's re-evaluations before its drop."""
    yield store
    while CREATED:
        container = CREATED.pop()
        await container.reevaluator.settle()
        await container.http.aclose()
