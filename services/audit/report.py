"""``report.html``: the package read by a person. One self-contained file: inline CSS and SVG,
no script, no font or image fetched — it opens the same offline, printed or archived."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from services.checks.controls import CHECK_CONTROLS, ISO27001, SOC2

COLOURS = {
    "PASSING": "#2e7d32",
    "FAILING": "#c62828",
    "ERROR": "#6a1b9a",
    "UNKNOWN": "#9e9e9e",
    "NOT_APPLICABLE": "#90a4ae",
}
NAMES = {
    "confluence-document-setup": "Policy documents set up",
    "confluence-policy-current": "Policies current and approved",
    "confluence-offboarded-access-removed": "Offboarded people's access removed",
    "confluence-user-identified": "Every account identified",
    "confluence-access-valid": "Access matches roles",
    "confluence-access-review-completed": "Access reviews completed",
    "confluence-mfa-enabled": "MFA enabled",
}


@dataclass
class CheckTimeline:
    """A check's status when the period began and each change in it."""

    check_id: str
    initial: str | None
    changes: list[tuple[str, str, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class ReportData:
    organization: str
    organization_id: str
    period_from: str
    period_to: str
    starts_at: str
    ends_at: str
    timelines: Mapping[str, CheckTimeline]
    exceptions: Sequence[Mapping[str, Any]]
    reviews: Sequence[Mapping[str, Any]]
    actions: Sequence[Mapping[str, Any]]
    terminated: Sequence[Mapping[str, Any]]
    policies: Sequence[Mapping[str, Any]]
    records: int


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def status_chart(line: CheckTimeline, starts_at: str, ends_at: str) -> str:
    """An inline SVG bar: the period left to right, coloured by the status in force."""
    width, height = 640, 22
    begin, end = _at(starts_at), _at(ends_at)
    span = max((end - begin).total_seconds(), 1.0)
    points = [(begin, line.initial or "UNKNOWN")]
    points += [(_at(at), status) for at, status, _ in line.changes]
    parts = []
    for i, (when, status) in enumerate(points):
        until = points[i + 1][0] if i + 1 < len(points) else end
        x = max(0.0, (when - begin).total_seconds() / span) * width
        w = max(0.0, (until - max(when, begin)).total_seconds() / span * width)
        colour = COLOURS.get(status, "#9e9e9e")
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{max(w, 0.5):.1f}" height="{height}" '
            f'fill="{colour}"><title>{escape(status)} from {escape(when.isoformat())}'
            "</title></rect>"
        )
    label = f"Status of {line.check_id} over the period"
    return (
        f'<svg role="img" aria-label="{escape(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> str:
    if not rows:
        return f"<p class=muted>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _legend() -> str:
    return " ".join(
        f'<span class=key><i style="background:{c}"></i>{escape(s)}</span>'
        for s, c in COLOURS.items()
    )


def render_report(data: ReportData) -> str:
    controls: dict[str, list[str]] = {}
    for check, (soc2, iso) in CHECK_CONTROLS.items():
        for control in (*soc2, *iso):
            controls.setdefault(control, []).append(check)
    sections = []
    for control in [*SOC2, *ISO27001]:
        checks = controls.get(control, [])
        if not checks:
            continue
        title = SOC2.get(control) or ISO27001.get(control, "")
        framework = "SOC 2" if control in SOC2 else "ISO 27001 Annex A"
        blocks = []
        for check in checks:
            line = data.timelines.get(check) or CheckTimeline(check, None)
            now = line.changes[-1][1] if line.changes else (line.initial or "UNKNOWN")
            excepted = [e for e in data.exceptions if e["checkId"] == check]
            blocks.append(
                f"<div class=check><h4>{escape(NAMES.get(check, check))} "
                f"<code>{escape(check)}</code> <span class=status "
                f'style="background:{COLOURS.get(now, "#9e9e9e")}">{escape(now)}</span></h4>'
                f"{status_chart(line, data.starts_at, data.ends_at)}"
                f"<p class=muted>{len(line.changes)} recorded change(s) in the period; "
                f"status at the start: {escape(line.initial or 'no evidence yet')}.</p>"
                + _table(
                    ["exception", "resource", "reason", "by", "from", "until"],
                    [
                        [
                            e["id"],
                            e["resourceId"],
                            e["reason"],
                            (e["createdBy"] or {}).get("id"),
                            e["createdAt"],
                            e["revokedAt"] or e["expiresAt"],
                        ]
                        for e in excepted
                    ],
                    "No exceptions in the period.",
                )
                + "</div>"
            )
        sections.append(
            f"<section><h3>{escape(framework)} {escape(control)} — {escape(title)}</h3>"
            + "".join(blocks)
            + "</section>"
        )
    reviews = _table(
        [
            "review",
            "system",
            "status",
            "started",
            "due",
            "completed",
            "on time",
            "entries",
            "decisions",
        ],
        [
            [
                r["id"],
                r["system"],
                r["status"],
                r["startedAt"],
                r["dueAt"],
                r["completedAt"],
                r["completedOnTime"],
                r["entries"],
                ", ".join(f"{k} {v}" for k, v in sorted(r["decisions"].items())),
            ]
            for r in data.reviews
        ],
        "No access review in the period.",
    )
    states: dict[str, int] = {}
    for a in data.actions:
        states[str(a["state"])] = states.get(str(a["state"]), 0) + 1
    actions = _table(
        ["action", "account", "call", "state", "approved by", "approved", "read-back"],
        [
            [
                a["id"],
                a["accountId"],
                a["kind"],
                a["state"],
                (a["approvedBy"] or {}).get("id"),
                a["approvedAt"],
                (a["readBack"] or {}).get("detail"),
            ]
            for a in data.actions[:200]
        ],
        "No remediation action in the period.",
    )
    terminated = _table(
        [
            "person",
            "offboarded",
            "account",
            "flagged since",
            "access removed",
            "days",
            "access at end",
        ],
        [
            [
                t["personEmail"] or t["personId"],
                t["offboardedAt"],
                t["accountId"],
                t["flaggedSince"],
                t["accessRemovedAt"],
                t["daysToRemoval"],
                t["hasAccessAtPeriodEnd"],
            ]
            for t in data.terminated[:200]
        ],
        "No terminated person held an account in the period.",
    )
    policies = _table(
        ["policy", "page", "title", "version", "status", "approved by", "approved"],
        [
            [
                p["policyType"],
                p["pageId"],
                p["title"],
                p["pageVersion"],
                p["status"],
                (p["approvedBy"] or {}).get("id"),
                p["approvedAt"],
            ]
            for p in data.policies
        ],
        "No policy document mapped.",
    )
    summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Audit package — {escape(data.organization)} — {data.period_from} to {data.period_to}</title>
<style>
body{{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1000px;color:#1b1b1b;padding:0 1rem}}
h1{{font-size:1.6rem;margin-bottom:.2rem}} h2{{border-bottom:2px solid #ddd;padding-bottom:.2rem;
margin-top:2rem}} h3{{margin:1.2rem 0 .4rem}} h4{{margin:.6rem 0 .3rem;font-size:1rem}}
code{{font-size:.85em;color:#555}} .muted{{color:#666;margin:.2rem 0}}
.status{{color:#fff;border-radius:3px;padding:0 .4rem;font-size:.8rem;margin-left:.3rem}}
.check{{margin:.4rem 0 1rem 1rem}} svg{{display:block;border:1px solid #ccc;max-width:100%}}
table{{border-collapse:collapse;margin:.4rem 0;font-size:.85rem;width:100%}}
th,td{{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}}
th{{background:#f3f3f3}} .key{{margin-right:.8rem;font-size:.85rem}}
.key i{{display:inline-block;width:.8rem;height:.8rem;margin-right:.25rem;vertical-align:-1px}}
pre{{background:#f6f6f6;padding:.6rem;overflow:auto}}
</style></head><body>
<h1>Audit package: {escape(data.organization)}</h1>
<p class=muted>Organization <code>{escape(data.organization_id)}</code> · period
{data.period_from} to {data.period_to} (UTC) · {data.records} evidence records in the period</p>
<h2>Controls and their checks</h2>
<p>{_legend()}</p>
{"".join(sections)}
<h2>Access reviews</h2>{reviews}
<p class=muted>Every decision, who made it and when, and notes: reviews/review-decisions.csv.</p>
<h2>Remediation</h2><p>Actions approved in the period: {escape(summary)}.</p>{actions}
<p class=muted>Atlassian's answers and read-backs: remediation/actions.csv and .json.</p>
<h2>Terminated users and access removal</h2>{terminated}
<h2>Policy documents</h2>{policies}
<h2>How to verify this package</h2>
<ol><li>Obtain the organization's public key from its Vigil operator through a channel you
trust (not from this package): <code>vigil evidence public-key --org ORG</code>.</li>
<li>With Python 3.11+ and only the <code>cryptography</code> package:
<pre>python verify_bundle.py this-package.zip --public-key key.pem</pre></li>
<li>It prints <b>OK</b>, or the first file and evidence record that fails and why. It checks
the manifest's Ed25519 signature, every file's SHA-256, every record's hash and its link to the
previous one between two signed checkpoints, and every list (population, failing items) the
records refer to. It cannot check the records' HMACs, which need Vigil's secret key.</li></ol>
</body></html>
"""
