"""Read-backs that lag (confluence-api.md §5.9: up to 30 s of eventual consistency): a write is
accepted at once and its effect becomes visible to reads ``lag_seconds`` later on the
simulator's clock — tests move the clock instead of sleeping."""

from __future__ import annotations

import threading

import pytest

from simulator import RunningSimulator
from simulator.roles import USER, confluence_resource
from tests.simulator.support import AdminApi, basic_client, staff

REMOVE = "/wiki/rest/api/group/userByGroupId"


@pytest.mark.parametrize("lag", [5, 70])
def test_a_suspension_reads_back_after_the_lag(fresh: RunningSimulator, lag: int) -> None:
    sim, site = fresh.sim, fresh.sim.site
    sim.behaviour.configure(lag_seconds=lag)
    account_id = staff(site)[0]
    resource = confluence_resource(site.cloud_id)
    with AdminApi(fresh) as admin:
        [directory] = admin.directory_ids(account_id)

        def read_back() -> str:
            [entry] = admin.role_assignments(directory, account_id, resourceIds=resource)
            return str(entry["userDirectoryStatus"])

        assert admin.suspend(directory, account_id).status_code == 204
        assert sim.pending_writes() == 1
        assert read_back() == "active" and admin.user(account_id)["membershipStatus"] == "active"
        assert site.has_confluence_access(account_id)  # ground truth lags too
        sim.clock.advance(lag - 1)
        assert read_back() == "active"
        sim.clock.advance(1)
        assert read_back() == "suspended"
        assert admin.user(account_id)["membershipStatus"] == "suspended"
        assert sim.pending_writes() == 0
    # The event is there at once: it happened when the write was made.
    [event] = sim.events.events
    assert event.action == "user_access_suspended"


def test_group_and_role_writes_lag_and_keep_their_order(fresh: RunningSimulator) -> None:
    sim, site = fresh.sim, fresh.sim.site
    sim.behaviour.configure(lag_seconds=5)
    account_id = staff(site)[0]
    group_id = site.groups_of(account_id)[0].group_id
    with basic_client(fresh) as client, AdminApi(fresh) as admin:
        params = {"groupId": group_id, "accountId": account_id}
        assert client.delete(REMOVE, params=params).status_code == 204
        sim.clock.advance(1)
        added = client.post(REMOVE, params={"groupId": group_id}, json={"accountId": account_id})
        assert added.status_code == 201  # still a member as far as reads go
        assert (
            admin.roles("assign", account_id, USER, confluence_resource(site.cloud_id)).status_code
            == 204
        )

        def members() -> list[str]:
            page = client.get(f"/wiki/rest/api/group/{group_id}/membersByGroupId").json()
            return [m["accountId"] for m in page["results"]]

        assert account_id in members() and site.direct_roles.get(account_id) is None
        sim.clock.advance(4)  # the removal is due; the later add and grant are not
        assert account_id not in members()
        sim.clock.advance(1)
        assert account_id in members() and site.direct_roles[account_id] == (USER,)


def test_lagging_writes_can_be_applied_at_once(fresh: RunningSimulator) -> None:
    sim = fresh.sim
    sim.behaviour.configure(lag_seconds=3600)
    account_id = staff(sim.site)[0]
    sim.actions.suspend(account_id)
    assert sim.site.has_confluence_access(account_id)
    assert sim.apply_due_writes() == 0
    assert sim.apply_due_writes(everything=True) == 1
    assert not sim.site.has_confluence_access(account_id)


def test_writes_from_many_threads_while_the_clock_moves(fresh: RunningSimulator) -> None:
    """Admin API writes from several client threads, Python actions and clock moves at once
    (the pending writes, intents and events are shared): no deadlock, nothing lost, every
    account ends in the state of its last write, one event per change."""
    sim, site = fresh.sim, fresh.sim.site
    sim.behaviour.configure(lag_seconds=2)
    people = staff(site)
    writers, granted = people[:6], people[6:12]
    rounds = 5
    directory = sim.org.default_directory.directory_id
    statuses: list[int] = []
    errors: list[BaseException] = []

    def write(account_id: str) -> None:
        try:
            with AdminApi(fresh) as admin:
                for n in range(rounds):
                    call = admin.suspend if n % 2 == 0 else admin.restore
                    statuses.append(call(directory, account_id).status_code)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(a,)) for a in writers]
    for thread in threads:
        thread.start()
    for account_id in granted:  # meanwhile, from this thread
        sim.actions.grant_role(account_id, USER)
        sim.clock.advance(1)
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert statuses == [204] * (rounds * len(writers))
    sim.apply_due_writes(everything=True)
    assert sim.pending_writes() == 0
    for account_id in writers:  # an odd number of alternating writes: suspended
        assert account_id in site.suspended and not site.has_confluence_access(account_id)
        changes = [e for e in sim.events.events if e.context[0]["id"] == account_id]
        assert len(changes) == rounds
    assert all(site.direct_roles.get(a) == (USER,) for a in granted)


def test_writes_to_the_same_thing_stay_in_order_when_the_lag_changes(
    fresh: RunningSimulator,
) -> None:
    sim, site = fresh.sim, fresh.sim.site
    account_id = staff(site)[0]
    sim.behaviour.configure(lag_seconds=10)
    assert sim.actions.suspend(account_id) == 1
    sim.behaviour.configure(lag_seconds=0)
    assert sim.actions.restore(account_id) == 1  # judged against the suspension to come
    assert sim.pending_writes() == 2  # the restore waits for the suspension
    sim.clock.advance(10)
    assert sim.apply_due_writes() == 2
    assert account_id not in site.suspended and site.has_confluence_access(account_id)
    assert [e.action for e in sim.events.events] == [
        "user_access_suspended",
        "user_access_restored",
    ]
