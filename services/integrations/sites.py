"""Normalising what people type as a Confluence site into a base URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from services.errors import ValidationFailed

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class InvalidDomain(ValidationFailed):
    """Not an Atlassian Cloud site address."""

    code = "INVALID_DOMAIN"


def site_base_url(value: str, *, field: str, allow_insecure: bool) -> str:
    """``x.atlassian.net``, ``https://x.atlassian.net/wiki/`` → ``https://x.atlassian.net``.

    With ``allow_insecure`` (simulator and tests only) any ``http(s)://host[:port][/path]``
    is accepted and its path kept, minus a trailing ``/wiki``.
    """
    raw = value.strip()
    if not raw:
        raise InvalidDomain(
            "enter your Confluence site, e.g. yourcompany.atlassian.net", field=[field]
        )
    refused = InvalidDomain(
        f"{raw!r} is not an Atlassian Cloud site: use yourcompany.atlassian.net", field=[field]
    )
    if any(c.isspace() or not c.isprintable() for c in raw):
        raise refused  # urlsplit would silently drop an embedded newline or tab
    try:
        parts = urlsplit(raw if "://" in raw else f"https://{raw}")
        port = parts.port  # ValueError for ":abc", ":99999"
    except ValueError:  # also "http://[::1" (broken IPv6 literal)
        raise refused from None
    host = (parts.hostname or "").lower()
    if allow_insecure and parts.scheme in ("http", "https") and host:
        path = parts.path.rstrip("/").removesuffix("/wiki")
        return f"{parts.scheme}://{parts.netloc.lower()}{path}"
    name = host.removesuffix(".atlassian.net")
    if (
        parts.scheme != "https"
        or port is not None
        or parts.username
        or not host.endswith(".atlassian.net")
        or not _LABEL.match(name)
    ):
        raise refused
    return f"https://{host}"
