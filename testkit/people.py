"""Through the API: Confluence made a critical system, HR's people imported from the
simulated site's staff accounts (the set-up access checks need before they can judge)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from simulator import Site
from testkit.connect import Env

ADD_SYSTEM = """mutation { addCriticalSystem(input: {system: CONFLUENCE}) {
  criticalSystem { id integrationId } userErrors { code message } } }"""
UPSERT = """mutation($people: [PersonInput!]!) { upsertPeople(input: $people) {
  created userErrors { field code message } } }"""


async def add_confluence_system(env: Env) -> str:
    """Confluence added as a critical system (refusals fail); the integration it uses."""
    added = (await env.gql(ADD_SYSTEM))["addCriticalSystem"]
    assert added["userErrors"] == [], added
    return str(added["criticalSystem"]["integrationId"])


def staff_people(site: Site) -> list[dict[str, str]]:
    """An HR row (email, name, job role Engineer) for every Atlassian account of ``site``
    that has an email, in the site's order."""
    return [
        {"email": a.email, "name": a.display_name, "jobRole": "Engineer"}
        for a in site.accounts.values()
        if a.account_type == "atlassian" and a.email
    ]


async def import_people(env: Env, people: Sequence[Mapping[str, object]]) -> int:
    """``people`` upserted (refusals fail); how many the import created."""
    upserted = (await env.gql(UPSERT, {"people": people}))["upsertPeople"]
    assert upserted["userErrors"] == [], upserted["userErrors"][:3]
    return int(upserted["created"])
