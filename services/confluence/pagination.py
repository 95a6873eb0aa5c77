"""Next-page cursors: where v1 and v2 responses say the next page is, as a path under the base URL.

v1 puts a path relative to ``_links.context`` in ``_links.next``; v2 puts the next URL in a
``Link: <…>; rel="next"`` header and in ``_links.next``. Either way the cursor handed to callers
is the path (with query) under the client's base URL, starting at ``/wiki/``. Callers treat it
as opaque; the client only follows cursors that stay on the endpoint they came from, so a
forged cursor can never send credentials to another host or path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from services.confluence.paths import V1_CONTEXT

_LINK_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?', re.IGNORECASE)


def v1_next_cursor(data: Mapping[str, Any]) -> str | None:
    """Cursor of the next page of a v1 list, from ``_links.next`` and ``_links.context``."""
    links = data.get("_links")
    if not isinstance(links, dict):
        return None
    nxt, context = links.get("next"), links.get("context")
    if not isinstance(nxt, str) or not nxt:
        return None
    return _under_base(nxt, context if isinstance(context, str) and context else V1_CONTEXT)


def v2_next_cursor(headers: Mapping[str, str], data: Mapping[str, Any]) -> str | None:
    """Cursor of the next page of a v2 list, from the Link header or ``_links.next``."""
    match = _LINK_NEXT.search(headers.get("link", ""))
    if match and match.group(1):
        return _under_base(match.group(1), V1_CONTEXT)
    links = data.get("_links")
    nxt = links.get("next") if isinstance(links, dict) else None
    return _under_base(nxt, V1_CONTEXT) if isinstance(nxt, str) and nxt else None


def checked_cursor(cursor: str, endpoint_path: str) -> str:
    """Return ``cursor`` if it is a relative path on ``endpoint_path``, else raise ValueError."""
    parts = urlsplit(cursor)
    if parts.scheme or parts.netloc or unquote(parts.path) != unquote(endpoint_path):
        raise ValueError(f"cursor does not belong to {endpoint_path}")
    return cursor


def _under_base(link: str, context: str) -> str:
    """Turn a next link into a path under the base URL that starts at ``/wiki/``."""
    parts = urlsplit(link)
    path = parts.path
    if "/wiki/" in path:
        # Absolute URLs and gateway paths (/ex/confluence/{cloudId}/wiki/...) keep only the
        # part the base URL does not already carry.
        path = path[path.index("/wiki/") :]
    else:
        path = context.rstrip("/") + "/" + path.lstrip("/")
    return f"{path}?{parts.query}" if parts.query else path
