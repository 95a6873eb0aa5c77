"""``GET /wiki/rest/api/user/memberof``: one account's groups (the targeted refresh of
confluence-api.md §5.10), offset-paged like the group list, with its scopes."""

from __future__ import annotations

from simulator import RunningSimulator
from tests.simulator.support import basic_client, bearer_client, follow_v1

MEMBEROF = "/wiki/rest/api/user/memberof"


def test_memberof_lists_the_accounts_groups_page_by_page(running: RunningSimulator) -> None:
    site = running.sim.site
    account_id = max(site.accounts, key=lambda a: (len(site.groups_of(a)), a))
    expected = sorted((g.name.casefold(), g.group_id) for g in site.groups_of(account_id))
    assert len(expected) >= 3
    with basic_client(running) as client:
        pages = follow_v1(client, MEMBEROF, accountId=account_id, limit=2)
        missing = client.get(MEMBEROF)
        unknown = client.get(MEMBEROF, params={"accountId": "557058:nobody"})
    assert len(pages) == -(-len(expected) // 2)
    listed = [(g["name"].casefold(), g["id"]) for page in pages for g in page["results"]]
    assert listed == expected
    assert (missing.status_code, unknown.status_code) == (400, 404)


def test_memberof_takes_the_classic_user_or_the_granular_group_scope(
    running: RunningSimulator,
) -> None:
    account_id = running.sim.site.operators["admin"]
    for scopes, status in (
        (["read:confluence-user"], 200),
        (["read:group:confluence"], 200),
        (["read:space:confluence"], 401),
    ):
        token = running.sim.issue_access_token(scopes)["access_token"]
        with bearer_client(running, token) as client:
            answer = client.get(MEMBEROF, params={"accountId": account_id})
        assert answer.status_code == status, scopes
