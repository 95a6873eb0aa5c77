"""Relay connection plumbing shared by every paginated field (SPEC §7)."""

from __future__ import annotations

from typing import Any

import strawberry

from services.paging import Slice


@strawberry.type
class PageInfo:
    """Where a page of a connection ends and whether more follow."""

    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def of(cls, page: Slice[Any]) -> PageInfo:
        """The page info of a service-layer slice."""
        return cls(has_next_page=page.has_next_page, end_cursor=page.end_cursor)
