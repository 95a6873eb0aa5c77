"""The HTTP request of a webhook or Slack delivery, through Vigil's shared httpx client.

The one module of ``services/alerts`` that imports httpx (the import contract in
``pyproject.toml`` names it): alerts are Vigil's own outbound requests to endpoints an
administrator configured, not Atlassian calls, so they live with the alerts and not in
``services/confluence`` or ``services/atlassian``. Redirects are not followed (a delivery goes
to the URL that was configured, nowhere else) and at most 1 KB of the answer is read.
"""

from __future__ import annotations

import httpx

from services.alerts.models import DeliveryFailed
from services.alerts.senders import HttpAnswer
from services.redaction import SECRETS

ANSWER_BYTES = 1024
MAX_RETRY_AFTER = 600.0


class HttpxPoster:
    """``Poster`` over an ``httpx.AsyncClient`` with a per-request timeout."""

    def __init__(self, client: httpx.AsyncClient, *, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
        """POST ``body``; the answer, or ``DeliveryFailed`` naming the failure (not the URL)."""
        try:
            SECRETS.add(str(httpx.URL(url)))  # httpx logs the request's URL in this form
            async with self._client.stream(
                "POST",
                url,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                start = b""
                async for chunk in response.aiter_bytes():
                    start += chunk
                    if len(start) >= ANSWER_BYTES:
                        break
                return HttpAnswer(
                    status=response.status_code,
                    text=start[:ANSWER_BYTES].decode("utf-8", errors="replace"),
                    retry_after=_retry_after(response.headers.get("retry-after")),
                )
        except httpx.TimeoutException:
            raise DeliveryFailed(
                f"the receiver did not answer within {self._timeout:g} s"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DeliveryFailed(f"could not reach the receiver ({type(exc).__name__})") from None


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (its delay form; a date form is ignored), at most 10 min."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
