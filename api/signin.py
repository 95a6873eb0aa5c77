"""Signing in and out: the browser routes around the identity providers.

- ``GET /auth/providers``: the configured providers (``{"providers": [{"id", "name"}]}``), for
  the sign-in screen.
- ``GET /auth/{provider}/start``: a pre-sign-in session (its own cookie, ``vigil_signin``, sent
  to ``/auth`` only) and a redirect to the provider. The session cookie is not touched: a page
  that sends the browser here cannot sign anyone out.
- ``GET /auth/{provider}/callback``: where the provider sends the browser back; on success a
  new session cookie (any session the browser held ends) and a redirect to
  ``VIGIL_FRONTEND_URL``, else a redirect there with ``?signin=refused&message=…`` (the message
  says why, in words a person can act on).
- ``POST /auth/logout``: end this session; ``POST /auth/logout-everywhere``: end every session
  of this person. Both need the cookie, the ``X-Vigil-CSRF`` header and an allowed ``Origin``
  (204, and the cookie is cleared).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from api.container import Container
from api.http_errors import Unauthenticated, domain_error
from api.http_requests import (
    SESSION_COOKIE,
    SESSION_ENDED,
    SIGNIN_COOKIE,
    admit_address,
    check_same_origin,
)
from services.errors import DomainError, NotFound

log = logging.getLogger(__name__)


def signin_routes(container: Container) -> list[Route]:
    """The sign-in and sign-out routes."""
    signin = container.signin
    settings = container.settings

    def with_cookie(
        response: Response, token: str, max_age: int, name: str = SESSION_COOKIE, path: str = "/"
    ) -> Response:
        response.set_cookie(
            name,
            token,
            max_age=max_age,
            path=path,
            secure=settings.session_cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    def without_cookie(response: Response, name: str, path: str) -> Response:
        response.delete_cookie(
            name,
            path=path,
            secure=settings.session_cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    def back_to_console(**params: str) -> RedirectResponse:
        target = settings.frontend_url.rstrip("/") + "/"
        query = f"?{urlencode(params)}" if params else ""
        return RedirectResponse(target + query, status_code=303)

    async def providers(request: Request) -> Response:
        listed = [{"id": pid, "name": name} for pid, name in signin.providers()]
        return JSONResponse({"providers": listed}, headers={"Cache-Control": "no-store"})

    async def start(request: Request) -> Response:
        provider = request.path_params["provider"]
        try:
            url, token = await signin.start(provider)
        except NotFound as exc:
            raise domain_error(exc) from None
        except DomainError as exc:
            return back_to_console(signin="refused", message=exc.message)
        response = RedirectResponse(url, status_code=302)
        return with_cookie(response, token, max_age=600, name=SIGNIN_COOKIE, path="/auth")

    async def callback(request: Request) -> Response:
        provider = request.path_params["provider"]
        # As for the OAuth callback: an address that keeps presenting what is not valid (an
        # unknown provider, a forged or replayed state) is refused before the next is read.
        address = await admit_address(container, request)
        try:
            done = await signin.complete(
                provider,
                callback_url=str(request.url),
                params=dict(request.query_params),
                attempt_token=request.cookies.get(SIGNIN_COOKIE),
                current_token=request.cookies.get(SESSION_COOKIE),
            )
        except NotFound as exc:
            raise domain_error(exc) from None
        except DomainError as exc:
            log.info("a sign-in with %s was refused: %s", provider, exc.code)
            refused = back_to_console(signin="refused", message=exc.message)
            return without_cookie(refused, SIGNIN_COOKIE, "/auth")
        except Exception:  # the provider or the database failed: not the caller's failure
            container.address_limiter.give_back(address)
            raise
        container.address_limiter.succeeded(address)
        max_age = int(container.services.sessions.policy.absolute.total_seconds())
        response = with_cookie(back_to_console(), done.session.token, max_age=max_age)
        return without_cookie(response, SIGNIN_COOKIE, "/auth")

    async def logout(request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        sessions = container.services.sessions
        principal = await sessions.authenticate(cookie) if cookie else None
        if principal is None or principal.person is None:
            raise Unauthenticated(SESSION_ENDED)
        check_same_origin(container, request)
        await sessions.end_token(cookie)
        if request.url.path.endswith("-everywhere"):
            await sessions.end_for_user(principal.person.user_id, reason="signed out everywhere")
        return without_cookie(Response(status_code=204), SESSION_COOKIE, "/")

    return [
        Route("/auth/providers", providers, methods=["GET"]),
        Route("/auth/{provider}/start", start, methods=["GET"]),
        Route("/auth/{provider}/callback", callback, methods=["GET"]),
        Route("/auth/logout", logout, methods=["POST"]),
        Route("/auth/logout-everywhere", logout, methods=["POST"]),
    ]
