"""The HTTP session the Confluence and Atlassian clients run on, as the rest of Vigil sees it.

Only ``services/confluence``, ``services/atlassian`` and the composition root import the HTTP
library (an import-linter contract checks it). Other services hold an ``HttpSession`` they
were given or opened here, and catch ``HttpError`` where a failed call is an expected answer.
"""

from __future__ import annotations

import httpx

#: The shared, keep-alive HTTP session the clients send through.
HttpSession = httpx.AsyncClient
#: Any failure to get an HTTP answer (transport, protocol, timeout, decoding).
HttpError = httpx.HTTPError


def open_session(
    *, timeout: float, connect: float, headers: dict[str, str] | None = None
) -> HttpSession:
    """A new session with these timeouts (seconds); the caller closes it (``async with``)."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=connect), headers=headers)
