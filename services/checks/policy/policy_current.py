"""``confluence-policy-current``: mapped policy pages reviewed within a year, fully structured."""

from __future__ import annotations

from datetime import timedelta

from services.checks.base import Outcome, Population
from services.checks.controls import controls_for
from services.checks.models import CheckItem, CheckStatus
from services.checks.policy.data import POLICY, PolicyData, conclude, iso, not_monitored
from services.policies.models import PageFacts, PolicyDocument

ID = "confluence-policy-current"
MAX_AGE = timedelta(days=365)
NOTHING_MAPPED = "no required policy has a mapped document yet: map the policy pages first"


class PolicyCurrent:
    """Fails for each mapped page last modified over 365 days ago or lacking a section."""

    id = ID
    title = "Policy document should be reviewed in the last 12 months"
    description = (
        "Each page mapped to a required policy must have been modified in the last 365 days "
        "and have Purpose, Scope and Policy section headings (any heading level)."
    )
    fix = (
        "Review the policy in Confluence and publish it again (a new version updates its "
        "last-modified time), adding any missing Purpose, Scope or Policy section heading."
    )
    controls = controls_for(ID)
    source = POLICY

    def evaluate(self, data: PolicyData) -> Outcome:
        """Pure evaluation over the mapped pages of the current snapshot."""
        mapped = [
            document
            for definition in data.state.required
            if (document := data.state.documents.get(definition.type)) is not None
        ]
        population = _population(data, mapped)
        blocked = not_monitored(data, population)
        if blocked is not None:
            return blocked
        if not mapped:
            return Outcome(CheckStatus.NOT_MONITORED, NOTHING_MAPPED, population=population)
        items = []
        for document in mapped:
            page = data.state.page_of(document)
            if page is None or not page.current:
                continue  # the document-setup check reports pages that are gone
            problems = _problems(data, page)
            if problems:
                items.append(CheckItem("confluence_page", page.page_id, page.title, problems))
        return conclude(data, items, population, "every mapped policy page is current")


def _problems(data: PolicyData, page: PageFacts) -> str | None:
    problems = []
    if page.last_modified_at is None:
        problems.append("its last modification time is unknown")
    elif data.now - page.last_modified_at > MAX_AGE:
        days = (data.now - page.last_modified_at).days
        problems.append(
            f"last modified {page.last_modified_at:%Y-%m-%d}, {days} days ago (over 365 days)"
        )
    if page.missing_sections:
        problems.append("missing section(s): " + ", ".join(page.missing_sections))
    return "; ".join(problems) or None


def _population(data: PolicyData, mapped: list[PolicyDocument]) -> Population:
    items = []
    for document in mapped:
        page = data.state.page_of(document)
        items.append(
            {
                "policyType": document.policy_type.value,
                "pageId": document.page_id,
                "title": page.title if page else document.title,
                "version": page.version if page else None,
                "pageStatus": page.status if page else "missing",
                "lastModifiedAt": iso(page.last_modified_at) if page else None,
                "missingSections": list(page.missing_sections) if page else None,
            }
        )
    return Population(kind="pages", items=tuple(items))
