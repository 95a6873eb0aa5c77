"""Pages of accounts of a snapshot a targeted run made (a layer, ADR 020) agree with a full
sync's (ADR 017's orders), on both stores.

A layer has no orders of its own: its pages are read over the layer and its base. Were its
reads to take an order (or the keyset path over the layer alone), they would miss the base's
accounts or show the ones the targeted run changed as they were before it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.models import AccountStatus
from services.store import Store
from services.sync.models import AccountFilter, SnapshotAccount, SyncRunKind, SyncRunStatus
from simulator import Simulator, generate_site
from tests.watch.support import watched

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def pages(
    store: Store, snapshot_id: str, f: AccountFilter, size: int
) -> tuple[list[SnapshotAccount], set[int]]:
    """Every account of ``f``, ``size`` at a time, and the totals the pages reported."""
    seen: list[SnapshotAccount] = []
    totals: set[int] = set()
    after: str | None = None
    while True:
        page, total = await store.snapshot_queries.list_accounts(
            snapshot_id=snapshot_id, filter=f, limit=size, after=after
        )
        totals.add(total)
        seen.extend(page)
        if len(page) < size:
            return seen, totals
        after = page[-1].account_id


async def test_pages_of_a_targeted_snapshot_equal_a_full_syncs(store: Store) -> None:
    sim = Simulator(generate_site(24, 4, 0, 11, now=NOW, access="varied"), seed=11)
    w = await watched(store, sim)
    truth = sim.confluence_access()
    operators = set(sim.site.operators.values())
    listed = {a.account_id for _, a in sim.directory_accounts()}
    suspended = [a for a in sorted(truth) if truth[a] and a in listed and a not in operators][:2]
    assert len(suspended) == 2
    for account_id in suspended:
        sim.actions.suspend(account_id)  # an admin's change: an event each
    run = await w.refresh()
    assert run is not None and run.kind is SyncRunKind.TARGETED, run
    assert run.status is SyncRunStatus.SUCCEEDED, run
    layered = await w.current()
    manifest = await store.snapshot_layers.manifest(layered)
    assert manifest is not None and manifest.layered
    assert set(suspended) <= set(manifest.accounts)

    full = (await w.full_sync()).snapshot_id
    after_full = await w.accounts(full)
    # a group of a suspended account, if it has one: its page mixes the layer and the base
    groups = sorted(after_full[suspended[0]].groups) or sorted(
        g for a in after_full.values() for g in a.groups
    )
    group = groups[0]
    filters = [
        AccountFilter(),
        AccountFilter(has_access=True),
        AccountFilter(has_access=False),
        AccountFilter(status=AccountStatus.ACTIVE),
        AccountFilter(group=group),
        AccountFilter(has_access=True, admin=False),  # no order serves two filters
    ]
    for f in filters:
        expected, expected_totals = await pages(store, full, f, 500)
        assert len(expected_totals) == 1 and len(expected) in expected_totals
        for size in (1, 3, 500):
            got, totals = await pages(store, layered, f, size)
            assert got == expected, (f, size)
            assert totals == expected_totals, (f, size)
    with_access, _ = await pages(store, layered, AccountFilter(has_access=True), 3)
    assert not set(suspended) & {a.account_id for a in with_access}  # the layer's, not the base's


async def test_remediations_read_groups_of_a_targeted_snapshot_as_a_full_sync(
    store: Store,
) -> None:
    """The planner's group reads (members, IdP-synced groups) of a layer are its base's for
    what the layer does not decide and the layer's for what it does."""
    sim = Simulator(generate_site(24, 4, 0, 5, now=NOW, access="varied"), seed=5)
    group = next(g for g in sim.site.groups.values() if len(g.member_ids) > 1)
    group.synced = True  # from an identity provider: the planner must not edit it
    w = await watched(store, sim)
    leaving = sorted(group.member_ids)[0]
    assert sim.actions.remove_member(group.name, leaving)  # an event
    run = await w.refresh()
    assert run is not None and run.kind is SyncRunKind.TARGETED, run
    layered = await w.current()
    assert (await store.snapshot_layers.manifest(layered)).layered  # type: ignore[union-attr]
    full = (await w.full_sync()).snapshot_id
    group_ids = sorted(g.group.group_id for g in await store.snapshot_refresh.groups(full))
    repo = store.remediations
    members = await repo.group_members(snapshot_id=layered, group_ids=group_ids)
    assert members == await repo.group_members(snapshot_id=full, group_ids=group_ids)
    assert leaving not in members[group.group_id]
    synced = await repo.synced_groups(snapshot_id=layered, group_ids=group_ids)
    assert synced == await repo.synced_groups(snapshot_id=full, group_ids=group_ids)
    assert group.group_id in synced  # a group the layer decides: it keeps managedBy
    assert group.group_id in (await store.snapshot_layers.manifest(layered)).groups  # type: ignore[union-attr]
