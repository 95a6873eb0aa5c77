"""GraphiQL served by Vigil itself, so it works offline (development only).

Strawberry's GraphiQL page loads React and GraphiQL from a CDN: offline it shows "Loading…"
forever. The same scripts ship in the ``graphene-django-graphiql-static`` package (React 17,
GraphiQL 2, graphql-ws; BSD/MIT licensed, installed with Vigil): this module serves them
under ``/graphiql/static/`` and answers a browser's ``GET /graphql`` with a page that uses
only those. Queries go over HTTP with the headers of GraphiQL's header editor;
subscriptions over WebSocket, sending the ``Authorization`` header in ``connection_init``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http_errors import ApiError

PACKAGE = "graphene_django_graphiql_static"
STATIC_PREFIX = "/graphiql/static/"
ASSETS = {
    "react.production.min.js": "text/javascript",
    "react-dom.production.min.js": "text/javascript",
    "graphiql.min.js": "text/javascript",
    "graphiql.min.css": "text/css",
    "graphql-ws.min.js": "text/javascript",
}


def asset_dir() -> Path | None:
    """Where the packaged GraphiQL files are, or None when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static" / PACKAGE
    return folder if all((folder / name).is_file() for name in ASSETS) else None


PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Vigil GraphiQL</title>
  <style>html, body, #graphiql { height: 100%; margin: 0; overflow: hidden; }</style>
  <link rel="stylesheet" href="{static}graphiql.min.css">
  <script src="{static}react.production.min.js"></script>
  <script src="{static}react-dom.production.min.js"></script>
  <script src="{static}graphiql.min.js"></script>
  <script src="{static}graphql-ws.min.js"></script>
</head>
<body>
  <div id="graphiql">Loading…</div>
  <script>
    const httpUrl = window.location.href.split("?")[0];
    const wsUrl = httpUrl.replace(/^http/, "ws");
    const http = GraphiQL.createFetcher({ url: httpUrl });
    const SUBSCRIPTION = /(^|[}\\s])subscription\\b/;

    function withoutComments(text) {
      return text.replace(/#[^\\n]*/g, "");
    }

    function fetcher(params, options) {
      const headers = (options && options.headers) || {};
      if (!SUBSCRIPTION.test(withoutComments(params.query || ""))) {
        return http(params, options);
      }
      const authorization = headers.Authorization || headers.authorization || "";
      return {
        subscribe(observer) {
          const client = graphqlWs.createClient({
            url: wsUrl,
            connectionParams: { authorization },
          });
          const stop = client.subscribe(params, {
            next: (value) => observer.next(value),
            error: (error) => observer.error(error),
            complete: () => { observer.complete(); client.dispose(); },
          });
          return { unsubscribe() { stop(); client.dispose(); } };
        },
      };
    }

    ReactDOM.render(
      React.createElement(GraphiQL, {
        fetcher,
        headerEditorEnabled: true,
        shouldPersistHeaders: true,
        defaultHeaders: JSON.stringify({ Authorization: "Bearer <your API key>" }, null, 2),
      }),
      document.getElementById("graphiql"),
    );
  </script>
</body>
</html>
"""


def page_html() -> str:
    """The GraphiQL page, loading only Vigil's own copies of the scripts."""
    return PAGE.replace("{static}", STATIC_PREFIX)


class OfflineGraphiQL:
    """Answers a browser's ``GET /graphql`` (``Accept: text/html``) with the offline page."""

    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the page for browsers; everything else goes on to the GraphQL view."""
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] == self.path
            and "text/html" in Request(scope).headers.get("accept", "")
        ):
            await HTMLResponse(page_html())(scope, receive, send)
            return
        await self.app(scope, receive, send)


def graphiql_routes(folder: Path) -> list[Route]:
    """``GET /graphiql/static/<file>``: the packaged scripts and stylesheet."""

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = ASSETS.get(name)
        if media_type is None:
            raise ApiError(404, f"no GraphiQL asset named {name!r}")
        return FileResponse(
            folder / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"}
        )

    return [Route(STATIC_PREFIX + "{name}", asset, methods=["GET"])]
