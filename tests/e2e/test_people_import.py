"""``POST /people/import`` end to end (SPEC §4): a 10,000-row file imports; each kind of bad
file is rejected whole with row-numbered reasons and the people collection unchanged."""

from __future__ import annotations

import time

import httpx
import pytest

from services.models import Role
from services.people.csv_import import MAX_BYTES
from testkit.graphql_client import gql_http
from testkit.live import LiveServer

HEADER = "email,name,status,job_role,start_date,offboarded_at\n"
PEOPLE = """query($after: String) { people(first: 500, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { email name status jobRole } } } }"""


def csv_of(n: int, *, role: str = "Engineer") -> bytes:
    rows = [f"user{i:05d}@acme.test,User {i},ACTIVE,{role},2024-01-02,\n" for i in range(n)]
    return (HEADER + "".join(rows)).encode()


async def org_key(live: LiveServer, role: Role = Role.ADMIN) -> tuple[str, str]:
    org, created = await live.container.services.organizations.create_organization("Acme")
    if role is Role.ADMIN:
        return org.id, created.secret
    other = await live.container.services.api_keys.create_api_key_for(org.id, role, "other")
    return org.id, other.secret


async def post(
    http: httpx.AsyncClient,
    live: LiveServer,
    key: str | None,
    body: bytes,
    content_type: str = "text/csv",
    timeout: float | None = None,
) -> httpx.Response:
    headers = {"content-type": content_type}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    url = f"{live.url}/people/import"
    if timeout is None:
        return await http.post(url, content=body, headers=headers)
    return await http.post(url, content=body, headers=headers, timeout=timeout)


async def all_people(live: LiveServer, key: str) -> list[dict[str, str]]:
    people, after = [], None
    while True:
        page = (await gql_http(live.graphql_url, key, PEOPLE, {"after": after}))["people"]
        people += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return people
        after = page["pageInfo"]["endCursor"]


# The time budget follows the work: at most 6 ms per row on a busy 2-core machine (a 10,000-row
# file in 60 s), whatever the store; the client waits that long, not its default 10 s.
ROWS = 10_000
SECONDS_PER_ROW = 0.006


async def test_a_ten_thousand_row_file_imports(live: LiveServer, http: httpx.AsyncClient) -> None:
    _, key = await org_key(live)
    budget = ROWS * SECONDS_PER_ROW
    started = time.monotonic()
    response = await post(http, live, key, csv_of(ROWS), timeout=budget)
    took = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json() == {"imported": ROWS, "created": ROWS, "updated": 0, "unchanged": 0}
    # Counting and paging 10,000 people is work too: the same per-row budget.
    page = (await gql_http(live.graphql_url, key, PEOPLE, {"after": None}, timeout=budget))[
        "people"
    ]
    assert page["totalCount"] == ROWS
    assert page["edges"][0]["node"] == {
        "email": "user00000@acme.test",
        "name": "User 0",
        "status": "ACTIVE",
        "jobRole": "Engineer",
    }
    again = await post(http, live, key, csv_of(ROWS), timeout=budget)
    assert again.json()["unchanged"] == ROWS
    assert took < budget, took


BAD = [
    ("bad email", HEADER + "a@acme.test,A,ACTIVE,,,\nnope,B,ACTIVE,,,\n", [(3, "email")]),
    ("unknown status", HEADER + "a@acme.test,A,GONE,,,\n", [(2, "status")]),
    ("offboarded without date", HEADER + "a@acme.test,A,OFFBOARDED,,,\n", [(2, "offboarded_at")]),
    (
        "duplicate email",
        HEADER + "a@acme.test,A,ACTIVE,,,\nA@ACME.test,A,ACTIVE,,,\n",
        [(3, "email")],
    ),
    ("wrong header", "email;name;status\na@acme.test;A;ACTIVE\n", [(1, None)]),
    ("wrong column count", HEADER + "a@acme.test,A\n", [(2, None)]),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD, ids=[b[0] for b in BAD])
async def test_each_kind_of_bad_file_is_rejected_whole(
    live: LiveServer,
    http: httpx.AsyncClient,
    name: str,
    text: str,
    expected: list[tuple[int, str | None]],
) -> None:
    _, key = await org_key(live)
    assert (await post(http, live, key, csv_of(3, role="Sales"))).status_code == 200
    before = await all_people(live, key)
    # Rows that would change the stored people come first: none of them may be applied.
    changes = "user00000@acme.test,Renamed,ACTIVE,IT,,\nnew@acme.test,New,ACTIVE,,,\n"
    body = text.replace(HEADER, HEADER + changes, 1) if text.startswith(HEADER) else text
    shift = 2 if text.startswith(HEADER) else 0
    response = await post(http, live, key, body.encode())
    assert response.status_code == 400, response.text
    problems = [e["extensions"] for e in response.json()["errors"]]
    assert [(p["row"], p["column"]) for p in problems] == [
        (r + shift if r > 1 else r, f) for r, f in expected
    ]
    assert {p["code"] for p in problems} == {"VALIDATION_FAILED"}
    assert all(e["message"] for e in response.json()["errors"])
    assert await all_people(live, key) == before


async def test_not_utf8_and_too_large(live: LiveServer, http: httpx.AsyncClient) -> None:
    _, key = await org_key(live)
    latin = (HEADER + "jos\xe9@acme.test,Jos\xe9,ACTIVE,,,\n").encode("latin-1")
    response = await post(http, live, key, latin)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["row"] == 2
    assert "UTF-8" in response.json()["errors"][0]["message"]
    response = await post(http, live, key, b"x" * (MAX_BYTES + 1))
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "FILE_TOO_LARGE"
    assert await all_people(live, key) == []


async def test_authentication_role_and_media_type(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    _, viewer = await org_key(live, Role.VIEWER)
    assert (await post(http, live, None, csv_of(1))).status_code == 401
    assert (await post(http, live, "vgl_wrong", csv_of(1))).status_code == 401
    forbidden = await post(http, live, viewer, csv_of(1))
    assert forbidden.status_code == 403
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    _, key = await org_key(live)
    multipart = await post(http, live, key, b"--x--", "multipart/form-data; boundary=x")
    assert multipart.status_code == 415
