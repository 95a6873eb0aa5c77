"""`/console`: the built console as static files with an SPA fallback, or one line saying how
to build it."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.console import console_status
from testkit.live import live_server

INDEX = (
    "<!doctype html><title>Vigil console</title><script src=/console/assets/app-1a2b.js></script>"
)


def _build(root: Path) -> Path:
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app-1a2b.js").write_text("console.log('vigil')")
    (root / "secret.txt").write_text("not part of the build")
    return dist


async def test_serves_the_build_with_an_spa_fallback(tmp_path: Path) -> None:
    dist = _build(tmp_path)
    async with (
        live_server(console_dir=str(dist)) as live,
        httpx.AsyncClient(base_url=live.url) as http,
    ):
        bare = await http.get("/console?integration=int_1&status=connected")
        assert bare.status_code == 308
        assert bare.headers["location"] == "/console/?integration=int_1&status=connected"

        index = await http.get("/console/")
        assert index.status_code == 200 and index.text == INDEX
        assert index.headers["content-type"].startswith("text/html")
        assert index.headers["cache-control"] == "no-cache"
        assert "script-src 'self'" in index.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in index.headers["content-security-policy"]

        # Any screen of the app gets index.html (the console routes in the browser).
        for screen in ("/console/checks/confluence-mfa-enabled", "/console/reviews/rev_1"):
            page = await http.get(screen)
            assert page.status_code == 200 and page.text == INDEX, screen

        asset = await http.get("/console/assets/app-1a2b.js")
        assert asset.status_code == 200 and asset.text == "console.log('vigil')"
        assert "immutable" in asset.headers["cache-control"]
        assert "javascript" in asset.headers["content-type"]

        missing = await http.get("/console/assets/gone-9f9f.js")
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"

        # Nothing outside the build is reachable, however the path is spelled.
        for escape in ("/console/%2e%2e/secret.txt", "/console/..%2Fsecret.txt"):
            outside = await http.get(escape)
            assert "not part of the build" not in outside.text, escape
            assert outside.status_code == 404, escape


async def test_says_how_to_build_it_when_it_is_not_built(tmp_path: Path) -> None:
    absent = tmp_path / "no-build"
    async with (
        live_server(console_dir=str(absent)) as live,
        httpx.AsyncClient(base_url=live.url) as http,
    ):
        for path in ("/console/", "/console/integrations"):
            page = await http.get(path)
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "make console" in page.text and page.text.count("\n") == 1
        # The API itself is unaffected.
        assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert "make console" in console_status(str(absent), "http://127.0.0.1:8000")
    built = _build(tmp_path / "built")
    assert (
        console_status(str(built), "http://h:1") == "http://h:1/console/  (sign in with an API key)"
    )
