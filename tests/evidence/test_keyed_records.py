"""An entry with a ``unique_key`` is recorded once (issue 21: the evidence of a remediation
action, whatever crashes or races): its record id comes from the key and the store refuses a
second record with that id — also between services that do not share a lock (two
processes), appending at the same time."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from services.models import Principal, Role
from services.store import Store
from tests.evidence.support import entry, service

ORG = "org_keyed"


async def test_concurrent_appends_of_one_key_make_one_record(store: Store) -> None:
    keyed = replace(entry(ORG, 1), unique_key="remediation:rem_1:1")
    other = replace(entry(ORG, 2), unique_key="remediation:rem_2:1")
    services = [service(store) for _ in range(4)]  # no shared lock, like four processes
    records = await asyncio.gather(
        *(s.record(keyed) for s in services), *(s.record(entry(ORG, 3)) for s in services[:2])
    )
    assert len({r.id for r in records[:4]}) == 1  # every writer got the same record
    again = await services[0].record(keyed)
    assert again.id == records[0].id
    second = await services[1].record(other)
    assert second.id != again.id
    chain = [r async for r in store.evidence.iter_chain(organization_id=ORG)]
    assert [r.sequence for r in chain] == list(range(1, len(chain) + 1))
    assert sum(r.id == records[0].id for r in chain) == 1
    assert len(chain) == 1 + 2 + 1  # the keyed one, two unkeyed, the other key
    status = await services[0].verify(Principal(ORG, Role.VIEWER, "k"))
    assert status.valid
