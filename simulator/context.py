"""What a Confluence handler gets: the simulator, site, caller and request."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass

from starlette.requests import Request

from simulator.auth import Principal
from simulator.core import RequestMeta, Simulator
from simulator.site import Site


def origin(request: Request) -> str:
    """scheme://host[:port] the client used to reach the simulator."""
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def site_url(request: Request, site: Site) -> str:
    """The site's base URL as served by this simulator (plays https://{site}.atlassian.net)."""
    return f"{origin(request)}/site/{site.name}"


@dataclass(slots=True)
class Ctx:
    """One authenticated Confluence request."""

    sim: Simulator
    site: Site
    principal: Principal
    request: Request
    meta: RequestMeta

    @property
    def base(self) -> str:
        """The site base URL (what `_links.base` is built from, even via api.atlassian.com)."""
        return site_url(self.request, self.site)

    def param(self, name: str, default: str = "") -> str:
        """A query parameter."""
        return self.request.query_params.get(name, default)

    def charge(self, objects: int, points_each: int) -> None:
        """Record quota points for returned objects."""
        self.meta.points += objects * points_each


def encode_cursor(offset: int, scope: str) -> str:
    """An opaque cursor for an offset within a query."""
    raw = json.dumps({"o": offset, "s": zlib.crc32(scope.encode())}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str) -> int:
    """The offset in a cursor; ValueError if malformed or from another query."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, check = int(data["o"]), int(data["s"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("malformed cursor") from exc
    if check != zlib.crc32(scope.encode()) or offset < 0:
        raise ValueError("cursor does not belong to this query")
    return offset


def parse_int(value: str, default: int) -> int:
    """An integer query parameter; ValueError if not an integer."""
    return default if value == "" else int(value)
