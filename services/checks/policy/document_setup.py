"""``confluence-document-setup``: every required policy has an approved, existing page."""

from __future__ import annotations

from services.checks.base import Outcome, Population
from services.checks.controls import controls_for
from services.checks.models import CheckItem
from services.checks.policy.data import POLICY, PolicyData, conclude, iso, not_monitored
from services.policies.catalogue import PolicyDefinition
from services.policies.models import PolicyStatus

ID = "confluence-document-setup"


class DocumentSetup:
    """Fails for each required policy without an ACTIVE document on a current page."""

    id = ID
    title = "Document should be set up"
    description = (
        "Each policy the active frameworks require (SOC 2 when none is active) must have an "
        "approved (ACTIVE) policy document whose Confluence page exists and is current in the "
        "latest policy snapshot."
    )
    fix = (
        "Write the missing policies in Confluence with the policy label, map each page to its "
        "policy type (mapPolicyDocument, or automatically by title after a sync), and approve "
        "it (approvePolicyDocument)."
    )
    controls = controls_for(ID)
    source = POLICY

    def evaluate(self, data: PolicyData) -> Outcome:
        """Pure evaluation over the frameworks, documents and the current snapshot."""
        population = _population(data)
        blocked = not_monitored(data, population)
        if blocked is not None:
            return blocked
        items = []
        for definition in data.state.required:
            reason = _problem(data, definition)
            if reason is not None:
                items.append(CheckItem("policy", definition.type.value, definition.title, reason))
        return conclude(data, items, population, "every required policy is set up")


def _problem(data: PolicyData, definition: PolicyDefinition) -> str | None:
    document = data.state.documents.get(definition.type)
    if document is None:
        return "no Confluence page is mapped to this policy"
    page = data.state.page_of(document)
    if page is None:
        return (
            f"the mapped page {document.page_id} ({document.title!r}) is no longer in Confluence "
            "(deleted, archived or no longer labelled as a policy)"
        )
    if not page.current:
        return f"the mapped page {page.title!r} is {page.status} in Confluence"
    if document.status is not PolicyStatus.ACTIVE:
        return f"{page.title!r} is a draft: an ADMIN must approve it"
    return None


def _population(data: PolicyData) -> Population:
    items = []
    for definition in data.state.required:
        document = data.state.documents.get(definition.type)
        page = data.state.page_of(document)
        items.append(
            {
                "policyType": definition.type.value,
                "documentStatus": document.status.value if document else None,
                "pageId": document.page_id if document else None,
                "title": page.title if page else (document.title if document else None),
                "version": page.version if page else None,
                "pageStatus": page.status if page else ("missing" if document else None),
                "lastModifiedAt": iso(page.last_modified_at) if page else None,
            }
        )
    return Population(kind="policies", items=tuple(items))
