"""Where the next page is: v1 `_links.next` relative to context, v2 Link header or `_links.next`."""

from __future__ import annotations

import pytest

from services.confluence.pagination import checked_cursor, v1_next_cursor, v2_next_cursor


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        ({"context": "/wiki", "next": "/rest/api/group?start=200&limit=200"},
         "/wiki/rest/api/group?start=200&limit=200"),
        ({"next": "/rest/api/group?start=200"}, "/wiki/rest/api/group?start=200"),
        ({"context": "", "next": "/rest/api/group?start=200"}, "/wiki/rest/api/group?start=200"),
        ({"context": "/wiki", "next": "/wiki/rest/api/group?start=5"}, "/wiki/rest/api/group?start=5"),
        ({"context": "/wiki", "next": "https://x.atlassian.net/wiki/rest/api/group?start=5"},
         "/wiki/rest/api/group?start=5"),
        ({"context": "/wiki"}, None),
        ({"context": "/wiki", "next": ""}, None),
        ({"context": "/wiki", "next": None}, None),
    ],
)  # fmt: skip
def test_v1_next(links: dict[str, object], expected: str | None) -> None:
    assert v1_next_cursor({"results": [], "_links": links}) == expected


def test_v1_without_links() -> None:
    assert v1_next_cursor({"results": []}) is None
    assert v1_next_cursor({"results": [], "_links": "x"}) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</wiki/api/v2/spaces?cursor=abc>; rel="next"', "/wiki/api/v2/spaces?cursor=abc"),
        ("</wiki/api/v2/spaces?cursor=abc>; rel=next", "/wiki/api/v2/spaces?cursor=abc"),
        ('<https://x.atlassian.net/wiki>; rel="base", </wiki/api/v2/spaces?cursor=b>; rel="next"',
         "/wiki/api/v2/spaces?cursor=b"),
        ('<https://api.atlassian.com/ex/confluence/c1/wiki/api/v2/spaces?cursor=c>; rel="next"',
         "/wiki/api/v2/spaces?cursor=c"),
        ('<https://x.atlassian.net/wiki>; rel="base"', None),
        ("", None),
    ],
)  # fmt: skip
def test_v2_link_header(header: str, expected: str | None) -> None:
    assert v2_next_cursor({"link": header}, {"results": []}) == expected


def test_v2_header_wins_over_body() -> None:
    headers = {"link": '</wiki/api/v2/spaces?cursor=h>; rel="next"'}
    body = {"_links": {"next": "/wiki/api/v2/spaces?cursor=b"}}
    assert v2_next_cursor(headers, body) == "/wiki/api/v2/spaces?cursor=h"
    assert v2_next_cursor({}, body) == "/wiki/api/v2/spaces?cursor=b"


@pytest.mark.parametrize(
    "cursor",
    [
        "https://evil.example/wiki/api/v2/spaces?cursor=x",
        "//evil.example/wiki/api/v2/spaces",
        "/wiki/api/v2/spaces/../pages?cursor=x",
        "/wiki/api/v2/pages?cursor=x",
    ],
)
def test_checked_cursor_refuses_other_places(cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        checked_cursor(cursor, "/wiki/api/v2/spaces")


def test_checked_cursor_accepts_own_path() -> None:
    assert checked_cursor("/wiki/api/v2/spaces?cursor=x", "/wiki/api/v2/spaces")
