"""Generated data: determinism, realism, JSON round trip, ground-truth API, start-up speed."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from simulator import Simulator, generate_site, load_site, load_sites, start_simulator
from simulator.model import ADMIN_GROUP_NAMES
from tests.simulator.support import small_site_json

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_same_seed_gives_identical_data() -> None:
    first = generate_site(users=400, groups=30, pages=90, seed=5, now=NOW)
    second = generate_site(users=400, groups=30, pages=90, seed=5, now=NOW)
    assert first.to_json() == second.to_json()
    creds = Simulator(first, seed=5).credentials
    assert creds == Simulator(second, seed=5).credentials


def test_different_seed_gives_different_data() -> None:
    first = generate_site(users=400, groups=30, pages=90, seed=5, now=NOW).to_json()
    second = generate_site(users=400, groups=30, pages=90, seed=6, now=NOW).to_json()
    assert first["accounts"] != second["accounts"]
    assert first["groups"] != second["groups"]
    assert first["cloudId"] != second["cloudId"]


def test_accounts_are_realistically_mixed() -> None:
    site = generate_site(users=2000, groups=40, pages=10, seed=2, now=NOW)
    accounts = list(site.accounts.values())
    with_email = [a for a in accounts if a.email]
    hidden = sum(not a.email_visible for a in with_email) / len(with_email)
    assert 0.25 < hidden < 0.35
    types = Counter(a.account_type for a in accounts)
    assert types["app"] > 50 and types["customer"] > 50 and types[""] > 20
    statuses = Counter(a.account_status for a in accounts)
    assert statuses["inactive"] > 50 and statuses["closed"] > 20
    managed = [a for a in accounts if site.is_managed(a)]
    unmanaged = [a for a in accounts if not site.is_managed(a)]
    assert {a.mfa_enabled for a in managed} == {True, False}
    assert {a.mfa_enabled for a in unmanaged} == {None}
    assert any(a.last_active is None for a in accounts)


def test_groups_overlap_and_include_admin_groups_and_big_groups() -> None:
    site = generate_site(users=2000, groups=40, pages=10, seed=2, now=NOW)
    names = {g.name for g in site.groups.values()}
    assert {"confluence-users", "confluence-administrators", "site-admins"} <= names
    assert len(site.groups) == 40 and len(names) == 40
    assert sum(len(g.member_ids) > 200 for g in site.groups.values()) >= 2
    memberships = Counter(m for g in site.groups.values() for m in g.member_ids)
    assert sum(n > 1 for n in memberships.values()) > 500  # overlapping membership
    admins = [a for a in site.accounts if site.is_admin(a)]
    assert site.operators["admin"] in admins and site.operators["member"] not in admins
    assert any(site.accounts[a].account_status != "active" for a in admins)
    admin_groups = [g for g in site.groups.values() if g.name in ADMIN_GROUP_NAMES]
    assert all(len(g.member_ids) >= 1 for g in admin_groups)


def test_policy_pages_cover_stale_missing_archived_and_restricted() -> None:
    site = generate_site(users=50, groups=5, pages=500, seed=3, now=NOW)
    policies = site.policy_pages(include_archived=True)
    titles = {p.title for p in policies}
    for title in (
        "Information Security Policy",
        "Access Control Policy",
        "Acceptable Use Policy",
        "Incident Response Plan",
    ):
        assert title in titles
    assert sum(p.is_stale(NOW) for p in policies) > 10
    assert sum(bool(p.missing_sections()) for p in policies) > 10
    assert sum(p.status == "archived" for p in policies) > 3
    assert len(site.pages) - len(policies) > 100  # non-policy pages
    complete = next(p for p in policies if not p.missing_sections())
    assert {"Purpose", "Scope", "Policy"} <= set(complete.headings)
    assert "<h1>Purpose</h1>" in complete.body
    assert any(site.spaces[p.space_key].restricted for p in policies)


def test_json_round_trip_and_load(tmp_path: Path) -> None:
    site = generate_site(users=100, groups=10, pages=30, seed=4, now=NOW)
    path = tmp_path / "site.json"
    site.save(path)
    loaded = load_site(path)
    assert loaded.to_json() == site.to_json()
    (tmp_path / "two.json").write_text(
        json.dumps(
            {
                "sites": [
                    small_site_json({"a": 1}, name="one"),
                    small_site_json({"b": 2}, name="two"),
                ]
            }
        )
    )
    assert [s.name for s in load_sites(tmp_path / "two.json")] == ["one", "two"]


def test_ground_truth_mutators() -> None:
    site = generate_site(users=60, groups=6, pages=12, seed=4, now=NOW)
    account_id = next(a for a in site.accounts if a not in site.operators.values())
    site.set_account_status(account_id, "inactive")
    assert site.accounts[account_id].account_status == "inactive"
    site.add_member("site-admins", account_id)
    assert site.is_admin(account_id)
    site.remove_member("site-admins", account_id)
    group = site.add_group("new-group", "g-new", [account_id, account_id])
    assert site.members_of(group.group_id) == [site.accounts[account_id]]
    page_id = next(iter(site.pages))
    updated = site.update_page(page_id, when=NOW, body="<h1>Purpose</h1>")
    assert updated.version == site.pages[page_id].version and updated.missing_sections() == [
        "Scope",
        "Policy",
    ]
    site.archive_page(page_id)
    assert site.pages[page_id].status == "archived"


def test_big_site_generates_and_starts_fast() -> None:
    started = time.perf_counter()
    sim = Simulator(generate_site(users=5000, groups=200, pages=500, seed=9), seed=9)
    with start_simulator(sim) as running:
        elapsed = time.perf_counter() - started
        response = httpx.get(f"{running.site_url()}/_edge/tenant_info")
        assert response.json() == {"cloudId": sim.site.cloud_id}
    assert elapsed < 5.0, f"generation + start took {elapsed:.2f}s"
    assert len(sim.site.accounts) == 5003


def test_twenty_thousand_users_are_feasible() -> None:
    started = time.perf_counter()
    site = generate_site(users=20000, groups=300, pages=1000, seed=1)
    assert len(site.accounts) == 20003
    assert time.perf_counter() - started < 10
