"""``/console``: the built web console (``console/dist``) as static files, with an SPA fallback.

The console is a separate client of the public GraphQL API (``console/README.md``): Vigil only
serves its files. Hashed assets are cached for a year, ``index.html`` never (a new build shows
at once). Any other path under ``/console/`` without a file extension is a screen of the
single-page app and gets ``index.html``; a missing file (``.js``, ``.png``…) is a 404. The
build directory is looked up on every request, so ``make console`` while Vigil runs is enough.
Without a build, every console URL answers one line saying how to get it (503).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

# The source tree's build (`make console`); VIGIL_CONSOLE_DIR points elsewhere.
DEFAULT_CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console" / "dist"

# The console talks to this origin only (GraphQL, WebSocket, /people/import, /evidence/export);
# React and uPlot set styles through the DOM, which `style-src 'unsafe-inline'` allows.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_NOT_BUILT = (
    "<!doctype html><meta charset=utf-8><title>Vigil console not built</title>"
    "<p>The Vigil web console is not built: run <code>make console</code> (needs Node.js 20.19 "
    "or newer) in the Vigil source tree, then reload this page.</p>\n"
)


def console_dir(configured: str | None) -> Path:
    """Where the console build is: ``VIGIL_CONSOLE_DIR`` or the source tree's ``console/dist``."""
    return Path(configured) if configured else DEFAULT_CONSOLE_DIR


def console_status(configured: str | None, base_url: str) -> str:
    """One line for a start-up banner: where the console is, or how to build it."""
    if (console_dir(configured) / "index.html").is_file():
        return f"{base_url}/console/  (sign in with an API key)"
    return "not built: run `make console` (needs Node.js 20.19+), then open /console/"


def console_routes(directory: Path | None = None) -> list[Route]:
    """``GET /console`` (redirect) and ``GET /console/{path}`` served from ``directory``."""
    root = directory or DEFAULT_CONSOLE_DIR

    async def redirect(request: Request) -> Response:
        query = request.url.query
        return RedirectResponse("/console/" + (f"?{query}" if query else ""), status_code=308)

    async def serve(request: Request) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
        path = request.path_params["path"]
        target = _file_in(root, path)
        if target is not None:
            immutable = PurePosixPath(path).parts[:1] == ("assets",)
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(target, headers={"Cache-Control": cache, **_PAGE_HEADERS})
        if "." in PurePosixPath(path).name:
            raise HTTPException(404, f"/console/{path} is not a file of the console build")
        return FileResponse(
            index, media_type="text/html", headers={"Cache-Control": "no-cache", **_PAGE_HEADERS}
        )

    return [
        Route("/console", redirect, methods=["GET"]),
        Route("/console/{path:path}", serve, methods=["GET"]),
    ]


def _file_in(root: Path, path: str) -> Path | None:
    """The file ``path`` names inside ``root``; None for directories, misses and escapes."""
    if not path:
        return None
    base = root.resolve()
    candidate = (base / path).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate
