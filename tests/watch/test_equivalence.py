"""Issue 23: a snapshot built by targeted runs equals what a full sync makes.

The simulator is served in-process (ASGI) and the store is the embedded one; the watcher is
stepped by the test (no timers), so 200 changes take seconds. The site is a random "varied"
one: groups with and without access roles, direct grants, IdP-synced groups, site and org
admins, suspensions — the cases of docs/access.md.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import pytest

from services.store import Store
from services.sync.models import RunTargets, SyncRunKind, SyncRunStatus, WatchMark
from simulator import Simulator, generate_site
from testkit.live import fresh_store
from tests.sync.test_access_property import act, assert_matches_ground_truth
from tests.watch.support import Watched, watched

NOW = datetime(2026, 6, 1, tzinfo=UTC)
# Memberships, status, direct grants, suspensions (and the admin roles they touch).
CHANGES = (
    "join",
    "leave",
    "deactivate",
    "reactivate",
    "grant",
    "revoke",
    "direct-only",
    "suspend",
    "restore",
    "grant-admin",
    "grant-site-admin",
    "org-admin",
)


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    """A fresh store on mongomock-motor only."""
    async with fresh_store("mock", None) as s:
        yield s


def varied(seed: int, users: int = 30, groups: int = 6) -> Simulator:
    return Simulator(generate_site(users, groups, 0, seed, now=NOW, access="varied"), seed=seed)


def people(sim: Simulator) -> list[str]:
    operators = set(sim.site.operators.values())  # Vigil signs in as one of them
    return sorted(a for a in sim.site.accounts if a not in operators)


def with_access(sim: Simulator) -> list[str]:
    """People of the directory (suspendable) who have Confluence access now."""
    listed = {a.account_id for _, a in sim.directory_accounts()}
    truth = sim.confluence_access()
    return [a for a in people(sim) if a in listed and truth[a]]


async def assert_equal_to_a_full_sync(w: Watched) -> None:
    targeted_id = await w.current()
    targeted = await w.accounts(targeted_id)
    manifest = await w.store.snapshot_layers.manifest(targeted_id)
    assert manifest is not None and manifest.layered  # built by targeted runs
    counts = await w.store.snapshot_data.counts(targeted_id)
    full = await w.full_sync()
    assert await w.accounts(full.snapshot_id) == targeted
    assert full.counts == counts


class Recorded:
    """WatchMetrics that remember the comparisons."""

    def __init__(self) -> None:
        self.comparisons: list[tuple[int, int]] = []

    def watch_events(self, seen: int, ignored: Mapping[str, int]) -> None:
        pass

    def watch_refresh(self, outcome: str) -> None:
        pass

    def watch_comparison(self, differences: int, unexplained: int) -> None:
        self.comparisons.append((differences, unexplained))


async def test_targeted_runs_equal_a_full_sync_after_200_random_changes(store: Store) -> None:
    sim = varied(seed=7)
    metrics = Recorded()
    w = await watched(store, sim, metrics=metrics)
    accounts, rng = people(sim), random.Random(23)
    changes = runs = 0
    while changes < 200:
        for _ in range(rng.randint(1, 6)):  # a burst of changes: one refresh
            act(sim, rng.choice(CHANGES), rng.choice(accounts), rng.randrange(1_000))
            changes += 1
        run = await w.refresh()
        if run is None:
            continue  # the burst changed nothing (e.g. restoring an active account)
        runs += 1
        assert run.kind is SyncRunKind.TARGETED and run.status is SyncRunStatus.SUCCEEDED, run
        assert run.progress.requests_made <= 4 * len(run.targets) + len(run.targets)
        if runs % 10 == 0:  # along the way: what the checks judge is Atlassian's truth
            assert_matches_ground_truth(sim, await w.accounts())
    assert runs >= 30
    await assert_equal_to_a_full_sync(w)
    await w.watcher.step()  # the full sync is compared with the targeted snapshot
    assert metrics.comparisons == [(0, 0)]


async def test_a_change_no_event_announced_is_reported_by_the_comparison(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    sim = varied(seed=3)
    metrics = Recorded()
    w = await watched(store, sim, metrics=metrics)
    first, second = with_access(sim)[:2]
    sim.actions.suspend(first)  # an admin's change: an event
    assert await w.refresh() is not None
    sim.site.set_suspended(second, True)  # changed behind Atlassian's audit log: no event
    assert sim.confluence_access()[second] is False
    await w.full_sync()
    with caplog.at_level(logging.ERROR, logger="services.watch.watcher"):
        await w.watcher.step()
    assert metrics.comparisons == [(1, 1)]
    assert second in caplog.text and "no event explains" in caplog.text
    state = await store.watch.get(integration_id=w.integration.id)
    assert state is not None and state.comparison is not None
    assert state.comparison.unexplained == (second,)


async def test_a_group_named_alone_is_refreshed_member_by_member(store: Store) -> None:
    sim = varied(seed=11, users=24, groups=5)
    w = await watched(store, sim)
    site = sim.site
    group = next(g for g in site.groups.values() if len(g.member_ids) >= 2 and not g.synced)
    leaving = group.member_ids[0]
    joining = next(a for a in people(sim) if a not in group.member_ids)
    site.remove_member(group.group_id, leaving)  # no events: the test names the group
    site.add_member(group.group_id, joining)
    mark = WatchMark(cursor="test")
    integration = await store.integrations.get_by_id(integration_id=w.integration.id)
    assert integration is not None
    queued = await w.runner.queue.submit_targeted(
        integration, RunTargets(groups=(group.group_id,)), mark
    )
    assert queued is not None and queued.kind is SyncRunKind.TARGETED
    run = await w.runner.execute(integration.id)
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run
    assert run.kind is SyncRunKind.TARGETED
    manifest = await store.snapshot_layers.manifest(run.snapshot_id)
    assert manifest is not None and {leaving, joining} <= set(manifest.accounts)
    assert await store.watch.committed(integration_id=integration.id) == mark
    await assert_equal_to_a_full_sync(w)


async def test_a_refresh_that_cannot_be_exact_reads_everything(store: Store) -> None:
    sim = varied(seed=5)
    w = await watched(store, sim, max_layer=1)
    first, second = with_access(sim)[:2]
    sim.actions.suspend(first)
    sim.actions.suspend(second)  # two accounts: more than the layer may hold
    run = await w.refresh()
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED
    assert run.kind is SyncRunKind.FULL and run.trigger.value == "EVENTS"
    assert any("Read in full" in warning for warning in run.warnings), run.warnings
    manifest = await store.snapshot_layers.manifest(run.snapshot_id)
    assert manifest is not None and not manifest.layered
    accounts = await w.accounts()
    assert not accounts[first].has_access and not accounts[second].has_access


async def test_events_processed_out_of_order_and_delivered_twice_change_nothing(
    store: Store,
) -> None:
    """The stream is ordered by processing time: an earlier action processed later comes
    after a later one, and a page may repeat its last event. A refresh reads what Atlassian
    says now, so neither order nor repetition changes the outcome."""
    sim = varied(seed=13)
    w = await watched(store, sim)
    first, second = with_access(sim)[:2]
    sim.behaviour.configure(event_delay_seconds=20)
    sim.actions.suspend(first)  # happened first, processed 20 s later
    sim.behaviour.configure(event_delay_seconds=0)
    sim.actions.suspend(second)  # happened after, processed at once: streamed first
    sim.actions.restore(second)  # and undone: its two events in order
    sim.clock.advance(30)  # every event processed
    sim.events.duplicate_next(2)  # the next pages repeat the event at their cursor
    times = [e.time for e in sim.events.events[-3:]]
    processed = sorted(sim.events.events[-3:], key=lambda e: e.processed_at)
    assert [e.time for e in processed] != times  # delivered out of the order they happened
    for _ in range(3):
        await w.refresh()
    accounts = await w.accounts()
    assert not accounts[first].has_access and accounts[second].has_access
    assert_matches_ground_truth(sim, accounts)
    await assert_equal_to_a_full_sync(w)
