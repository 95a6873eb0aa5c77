"""``GET /oauth/confluence/callback``: where Atlassian sends the browser back."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from api.container import Container
from api.http_requests import admit_address


def oauth_routes(container: Container) -> list[Route]:
    """The OAuth callback route."""

    async def callback(request: Request) -> Response:
        # Nobody is authenticated here: an address that keeps presenting states that are not
        # valid is refused before the next one is looked up (``api.budgets``).
        address = await admit_address(container, request)
        params = request.query_params
        outcome = await container.services.oauth.complete(
            state=params.get("state"), code=params.get("code"), error=params.get("error")
        )
        if outcome.integration is None:  # the address's token stays taken
            return HTMLResponse(_REJECTED.format(reason=html.escape(outcome.message)), 400)
        container.address_limiter.succeeded(address)
        query = urlencode(
            {
                "integration": outcome.integration.id,
                "status": outcome.status,
                "message": outcome.message,
            }
        )
        target = container.settings.frontend_url.rstrip("/")
        return RedirectResponse(f"{target}/?{query}", status_code=303)

    return [Route("/oauth/confluence/callback", callback, methods=["GET"])]


_REJECTED = """<!doctype html>
<html><head><meta charset="utf-8"><title>Vigil: link not valid</title></head>
<body><h1>This authorization link is not valid</h1>
<p>{reason}. Nothing was changed. Start connecting Confluence again from Vigil.</p>
</body></html>"""
