"""What changes alert, what each channel receives, and which channel inputs are accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.alerts.changes import check_alert, remediation_alert, sync_alert
from services.alerts.channels import channel_url, recipients
from services.alerts.messages import (
    SLACK_LISTED,
    email_message,
    slack_message,
    webhook_body,
    webhook_headers,
)
from services.alerts.models import (
    Alert,
    AlertKind,
    ChannelKind,
    ChannelSecret,
    Delivery,
    DeliveryState,
)
from services.checks.base import EMPTY_POPULATION, Evaluation
from services.checks.models import CheckItem, CheckResult, CheckStatus
from services.checks.registry import CHECKS
from services.errors import ValidationFailed
from services.integrations.models import (
    ConfluenceSite,
    Purpose,
)
from services.remediation.models import (
    ActionKind,
    ActionSource,
    ActionState,
    RemediationAction,
    SourceType,
)
from services.sync.models import SyncRun, SyncRunStatus, SyncTrigger
from testkit.sync import integration_at
from tests.alerts.receivers import Received, verify_signature

ORG = "org_1"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
P, F, E, N = CheckStatus.PASSING, CheckStatus.FAILING, CheckStatus.ERROR, CheckStatus.NOT_MONITORED
CHECK = CHECKS[0]


def result(status: CheckStatus, *, failing: int = 0, rid: str = "res_2") -> CheckResult:
    items = tuple(
        CheckItem("account", f"acc-{i}", f"Person <{i}>", "offboarded, still active")
        for i in range(failing)
    )
    return CheckResult(
        organization_id=ORG,
        check_id=CHECK.id,
        status=status,
        reason=f"{failing} failing item(s)" if failing else None,
        failing_items=items,
        excepted_items=(),
        evaluated_at=NOW,
        changed_at=NOW,
        evidence_id="evd_9",
        id=rid,
    )


def evaluation(before: CheckStatus | None, after: CheckStatus, failing: int = 0) -> Evaluation:
    previous = result(before, rid="res_1") if before is not None else None
    changed = before is not after
    return Evaluation(
        CHECK, result(after, failing=failing), previous, EMPTY_POPULATION, True, changed
    )


@pytest.mark.parametrize(
    ("before", "after", "alerts"),
    [
        (P, F, True),
        (None, F, True),
        (P, E, True),
        (F, E, True),
        (E, F, True),
        (F, P, True),
        (E, P, True),
        (None, P, False),
        (N, P, False),
        (P, N, False),
        (F, N, False),
        (None, N, False),
    ],
)
def test_a_status_turning_failing_or_error_or_back_to_passing_alerts(
    before: CheckStatus | None, after: CheckStatus, alerts: bool
) -> None:
    alert = check_alert(evaluation(before, after, failing=1 if after is F else 0))
    assert (alert is not None) is alerts
    if alert is not None:
        assert alert.key == f"check:{CHECK.id}:res_2"
        assert alert.fields["status"] == after.value
        assert alert.fields["previousStatus"] == (before.value if before else None)


def test_items_changing_under_the_same_status_are_no_alert() -> None:
    same = Evaluation(
        CHECK, result(F, failing=2), result(F, failing=1), EMPTY_POPULATION, True, False
    )
    assert check_alert(same) is None


def test_a_check_alert_names_its_failing_items() -> None:
    alert = check_alert(evaluation(P, F, failing=7))
    assert alert is not None and alert.kind is AlertKind.CHECK_STATUS_CHANGED
    assert alert.summary == f"{CHECK.title}: FAILING (was PASSING)"
    assert (
        alert.detail is not None and "Person <0>" in alert.detail and "and 2 more" in alert.detail
    )
    assert alert.fields["failingCount"] == 7 and len(alert.fields["failingItems"]) == 7
    assert alert.fields["evidenceId"] == "evd_9"


def test_sync_and_remediation_alerts_have_one_key_per_run_and_per_approval() -> None:
    integration = integration_at(
        NOW, organization_id=ORG, site=ConfluenceSite("https://acme.atlassian.net")
    )
    run = SyncRun(
        id="run_1",
        organization_id=ORG,
        integration_id="int_1",
        purpose=Purpose.ACCESS_REVIEW,
        status=SyncRunStatus.FAILED,
        trigger=SyncTrigger.SCHEDULED,
        snapshot_id="snp_1",
        created_at=NOW,
        finished_at=NOW,
        error="Confluence answered HTTP 500",
    )
    alert = sync_alert(integration, run, NOW)
    assert alert.key == "sync:run_1" and alert.detail == "Confluence answered HTTP 500"
    assert "acme.atlassian.net" in alert.summary and alert.fields["syncRunId"] == "run_1"

    action = RemediationAction(
        id="rem_1",
        organization_id=ORG,
        integration_id="int_1",
        account_id="acc-1",
        display_name="Ann",
        kind=ActionKind.REMOVE_FROM_GROUP,
        group_id="g1",
        group_name="staff",
        reason="offboarded",
        source=ActionSource(SourceType.CHECK),
        state=ActionState.FAILED,
        approved_at=NOW,
        error="Atlassian answered 403",
    )
    first = remediation_alert(action, NOW)
    again = remediation_alert(
        RemediationAction(**{**_fields(action), "approved_at": NOW + timedelta(minutes=5)}), NOW
    )
    assert first.summary == "Remediation failed: remove Ann from staff"
    assert first.key != again.key  # approved again, failed again: a new alert


def _fields(action: RemediationAction) -> dict[str, Any]:
    return {name: getattr(action, name) for name in action.__dataclass_fields__}


def delivery(count: int = 1) -> Delivery:
    alerts = tuple(
        Alert(
            key=f"check:c{i}:res_{i}",
            organization_id=ORG,
            kind=AlertKind.CHECK_STATUS_CHANGED,
            at=NOW,
            summary=f"Check {i} <b>&: FAILING",
            detail="1 failing item(s)",
            fields={"checkId": f"c{i}", "status": "FAILING"},
        )
        for i in range(count)
    )
    return Delivery(
        id="dlv_1",
        organization_id=ORG,
        channel_id="chn_1",
        channel_name="ops",
        channel_kind=ChannelKind.WEBHOOK,
        alerts=alerts,
        state=DeliveryState.PENDING,
        attempts=0,
        created_at=NOW,
    )


def test_the_webhook_signature_verifies_independently_and_not_when_tampered() -> None:
    body = webhook_body(delivery(2))
    headers = webhook_headers("dlv_1", "whsec_test", int(NOW.timestamp()), body)
    received = Received("/", headers, body)
    now = NOW.timestamp()
    assert verify_signature("whsec_test", received, now=now)
    assert not verify_signature("whsec_other", received, now=now)
    assert not verify_signature("whsec_test", Received("/", headers, body + b" "), now=now)
    assert not verify_signature("whsec_test", received, now=now + 3600)  # a replay, later
    payload = json.loads(body)
    assert payload["type"] == "vigil.alerts" and payload["id"] == "dlv_1" and not payload["test"]
    assert [a["id"] for a in payload["alerts"]] == ["check:c0:res_0", "check:c1:res_1"]
    assert headers["Vigil-Delivery"] == "dlv_1" and headers["Content-Type"] == "application/json"


def test_the_slack_message_has_text_and_blocks_within_slacks_limits() -> None:
    message = slack_message(delivery(SLACK_LISTED + 5))
    assert message["text"].startswith(f"Vigil: {SLACK_LISTED + 5} alerts")
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["type"] == "plain_text"
    assert len(blocks[0]["text"]["text"]) <= 150
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == SLACK_LISTED + 1 and "5 more" in sections[-1]["text"]["text"]
    assert all(b["text"]["type"] == "mrkdwn" and len(b["text"]["text"]) <= 3000 for b in sections)
    assert sections[0]["text"]["text"].startswith("*Check 0 &lt;b&gt;&amp;: FAILING*")
    assert blocks[-1]["type"] == "context" and len(blocks) <= 50


def test_the_email_lists_every_alert() -> None:
    one = email_message(delivery(1), sender="vigil@example.com", recipients=["a@example.com"])
    assert one["Subject"] == "[Vigil] Check 0 <b>&: FAILING" and one["To"] == "a@example.com"
    three = email_message(delivery(3), sender="vigil@example.com", recipients=["a@x.io", "b@x.io"])
    assert three["Subject"] == "[Vigil] 3 alerts: 3 checks changed"
    body = three.get_content()
    assert all(f"check:c{i}:res_{i}" in body for i in range(3)) and "dlv_1" in body


@pytest.mark.parametrize(
    ("url", "insecure", "slack", "ok"),
    [
        ("https://hooks.example.com/in/abc?x=1", False, False, True),
        ("http://hooks.example.com/in", False, False, False),
        ("https://localhost/in", False, False, False),
        ("https://127.0.0.1:8443/in", False, False, False),
        ("https://10.1.2.3/in", False, False, False),
        ("https://[::1]/in", False, False, False),
        ("https://user:pw@hooks.example.com/in", False, False, False),
        ("ftp://hooks.example.com/in", False, False, False),
        ("https://hooks.example.com/in x", False, False, False),
        ("http://127.0.0.1:9000/in", True, False, True),
        ("https://hooks.slack.com/services/T0/B0/xyz", False, True, True),
        ("https://hooks.example.com/services/T0/B0/xyz", False, True, False),
        ("http://127.0.0.1:9000/slack", True, True, True),
    ],
)
def test_channel_urls(url: str, insecure: bool, slack: bool, ok: bool) -> None:
    if ok:
        stored, target = channel_url(
            url, field=["input", "url"], allow_insecure=insecure, slack=slack
        )
        assert stored == url and url.startswith(target) and "/" not in target.split("://", 1)[1]
    else:
        with pytest.raises(ValidationFailed) as refused:
            channel_url(url, field=["input", "url"], allow_insecure=insecure, slack=slack)
        assert refused.value.field == ["input", "url"]
        assert "abc" not in refused.value.message and "xyz" not in refused.value.message


def test_recipients_are_checked_and_deduplicated() -> None:
    assert recipients([" a@x.io", "A@x.io", "b@x.io"], field=["input", "recipients"]) == (
        "a@x.io",
        "b@x.io",
    )
    with pytest.raises(ValidationFailed) as bad:
        recipients(["a@x.io", "not-an-address"], field=["input", "recipients"])
    assert bad.value.field == ["input", "recipients", "1"]
    with pytest.raises(ValidationFailed):
        recipients([], field=["input", "recipients"])


def test_a_channel_secret_never_prints() -> None:
    secret = ChannelSecret(
        url="https://hooks.slack.com/services/T/B/s3cr3t", signing_secret="whsec_x1"
    )
    assert "s3cr3t" not in repr(secret) and "whsec_x1" not in str(secret)
