"""The simulator's control surface (HTTP ``/_simulator/…`` and ``python -m simulator control``):
admin actions, switches, Guard, lag, clock, ground truth and request counters per route."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator import RunningSimulator
from simulator.control_cli import control_main
from simulator.roles import USER
from tests.simulator.support import AdminApi, basic_client, staff

ROOT = Path(__file__).resolve().parents[2]
REMOVE = "DELETE /wiki/rest/api/group/userByGroupId"


@pytest.fixture
def control(fresh: RunningSimulator) -> Iterator[httpx.Client]:
    """A client of the control routes of ``fresh``."""
    with httpx.Client(base_url=f"{fresh.base_url}/_simulator", timeout=10) as client:
        yield client


def test_actions_over_http_change_the_site_and_record_events(
    fresh: RunningSimulator, control: httpx.Client
) -> None:
    sim, site = fresh.sim, fresh.sim.site
    a, b = staff(site, managed=True)[:2]
    group = site.groups_of(a)[0]
    steps: list[tuple[str, dict[str, object]]] = [
        ("remove-member", {"group": group.group_id, "accountId": a}),
        ("add-member", {"group": group.name, "accountId": a}),
        ("grant-access", {"accountId": b, "role": "atlassian/admin"}),
        ("revoke-access", {"accountId": b, "role": "atlassian/admin"}),
        ("suspend", {"accountId": a}),
        ("restore", {"accountId": a}),
        ("deactivate", {"accountId": b}),
        ("reactivate", {"accountId": b}),
        ("org-admin", {"accountId": b}),
    ]
    for action, body in steps:
        response = control.post(f"/actions/{action}", json=body)
        assert response.json() == {"changed": 1}, (action, response.text)
    assert a in group.member_ids and not site.direct_roles.get(b)
    assert b in sim.org.admins and site.accounts[b].account_status == "active"
    assert len(sim.events.events) == len(steps)
    # The same again changes nothing (and records nothing): only org-admin revocation does.
    assert control.post(
        "/actions/add-member", json={"group": group.name, "accountId": a}
    ).json() == {"changed": 0}
    assert control.post("/actions/org-admin", json={"accountId": b, "admin": False}).json() == {
        "changed": 1
    }
    unknown = control.post("/actions/teleport", json={"accountId": a})
    missing = control.post("/actions/suspend", json={})
    nobody = control.post("/actions/grant-access", json={"accountId": "557058:nobody"})
    assert (unknown.status_code, missing.status_code, nobody.status_code) == (404, 400, 404)
    assert sim.counters.count() == 0  # the control surface is not Atlassian's: not counted


def test_switches_lag_clock_and_ground_truth_over_http(
    fresh: RunningSimulator, control: httpx.Client
) -> None:
    sim, site = fresh.sim, fresh.sim.site
    account_id = staff(site)[0]
    switches = control.post("/behaviour", json={"lagSeconds": 5, "suspendAnswer": "200-empty"})
    assert switches.json()["lagSeconds"] == 5 and sim.behaviour.suspend_answer == "200-empty"
    assert control.post("/behaviour", json={"lagSeconds": -1}).status_code == 400
    assert control.post("/behaviour", json={"noSuchSwitch": 1}).status_code == 400
    assert control.post("/actions/suspend", json={"accountId": account_id}).status_code == 200
    assert control.get("/access").json()[account_id] is True  # not visible yet
    assert control.get("").json()["pendingWrites"] == 1
    assert control.post("/clock", json={"advanceSeconds": 5}).status_code == 200
    assert control.get("/access").json()[account_id] is False
    assert sim.confluence_access() == control.get("/access").json()
    control.post("/actions/restore", json={"accountId": account_id})
    assert control.post("/writes/apply", json={"everything": True}).json()["applied"] == 1
    assert site.has_confluence_access(account_id)


def test_counters_per_route_count_exactly_the_calls(
    fresh: RunningSimulator, control: httpx.Client
) -> None:
    site = fresh.sim.site
    account_id = staff(site)[0]
    group_id = site.groups_of(account_id)[0].group_id
    with basic_client(fresh, role="member") as client:
        client.delete(
            "/wiki/rest/api/group/userByGroupId",
            params={"groupId": group_id, "accountId": account_id},
        )
    counters = control.get("/counters").json()
    assert counters["byRoute"] == {REMOVE: 1}
    assert counters["byRouteStatus"] == {f"{REMOVE} 403": 1}
    assert control.post("/counters/reset", json={}).status_code == 200
    assert control.get("/counters").json()["byRoute"] == {}


def test_the_control_cli_drives_a_running_simulator(fresh: RunningSimulator) -> None:
    sim, site = fresh.sim, fresh.sim.site
    account_id = staff(site)[0]
    printed: list[str] = []

    def run(*argv: str) -> int:
        return control_main(["--url", fresh.base_url, *argv], echo=printed.append)

    assert run("grant-access", account_id) == 0 and site.direct_roles[account_id] == (USER,)
    assert run("revoke-access", account_id) == 0 and account_id not in site.direct_roles
    group = site.groups_of(account_id)[0].name
    assert run("remove-member", group, account_id) == 0
    assert run("add-member", group, account_id) == 0
    assert run("suspend", account_id) == 0 and account_id in sim.suspended
    assert run("restore", account_id) == 0 and account_id not in sim.suspended
    assert run("lag", "2.5") == 0 and sim.behaviour.lag_seconds == 2.5
    assert run("suspend-answer", "200-message") == 0
    assert run("behaviour", "eventDelaySeconds=3", "idpRemoval=accept") == 0
    assert (sim.behaviour.event_delay_seconds, sim.behaviour.idp_removal) == (3, "accept")
    assert run("guard", "off") == 0 and sim.org.guard_standard is False
    assert run("advance", "3") == 0
    with AdminApi(fresh) as admin:
        admin.http.post("/admin/v2/orgs/x/directories/-/users/search", json={})
    assert run("counters") == 0
    assert json.loads(printed[-1])["byRoute"] == {
        "POST /admin/v2/orgs/{orgId}/directories/-/users/search": 1
    }
    assert run("deactivate", "557058:nobody") == 1  # refused: exit code 1, the error printed
    assert "error" in json.loads(printed[-1])
    assert run("status") == 0 and json.loads(printed[-1])["guardStandard"] is False


def test_python_m_simulator_control_is_wired(fresh: RunningSimulator) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "control", "--url", fresh.base_url, "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["orgId"] == fresh.sim.credentials.org_id
