"""Per-account evaluation (issue 24): after any sequence of one-account changes — an identity
decided or cleared, a person offboarded or given another role — and time passing over grace
periods, each access check evaluated from what it held equals the check evaluated from
scratch, judging again only the accounts the change touched."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from services.checks.access.changes import ChangeLog, DataVersion
from services.checks.access.data import AccessData
from services.checks.access.identified import UserIdentified
from services.checks.access.judged import JudgedCheck, Verdicts
from services.checks.access.mfa import MfaEnabled
from services.checks.access.offboarded import OffboardedAccessRemoved
from services.checks.access.valid import AccessValid
from services.checks.models import item_hash, items_sum
from services.people.models import Person, PersonStatus
from services.reviews.models import AccessDecision, AccessRule
from tests.access.builders import (
    account,
    completed,
    data,
    not_staff,
    person,
    staff,
    system,
)

CHECKS: tuple[JudgedCheck, ...] = (
    OffboardedAccessRemoved(),
    UserIdentified(),
    AccessValid(),
    MfaEnabled(),
)
ROLES = ("Engineer", "Manager", "Sales", None)


def organization(rng: random.Random) -> tuple[AccessData, list[Person]]:
    accounts = [
        account(
            f"acc-{i:03d}",
            email=f"u{i}@acme.test" if i % 11 else None,
            status="inactive" if i % 17 == 0 else "active",
            admin=i % 5 == 0,
            mfa=(None, True, False)[i % 3],
            access=("group", "direct", "none")[i % 7 % 3],
            directory="suspended" if i % 19 == 0 else ("active" if i % 2 else None),
        )
        for i in range(90)
    ]
    people = [person(f"p{i}@acme.test", role=rng.choice(ROLES)) for i in range(50)]
    identities = [staff(f"acc-{i:03d}", people[i % 50], manual=i % 4 == 0) for i in range(0, 90, 2)]
    identities += [
        not_staff(f"acc-{i:03d}", None if i % 9 == 0 else "bot") for i in range(1, 30, 6)
    ]
    decisions = {
        f"acc-{i:03d}": (AccessDecision.KEEP, AccessDecision.REVOKE, AccessDecision.DOWNGRADE)[
            i % 3
        ]
        for i in range(0, 90, 8)
    }
    base = data(
        accounts,
        people=people,
        identities=identities,
        system=system(
            AccessRule.ROLE_BASED, allowed=("Engineer", "Manager"), admin_roles=("Manager",)
        ),
        completed_review=completed(decisions),
    )
    return base, people


def one_change(
    rng: random.Random, current: AccessData, people: list[Person]
) -> tuple[AccessData, set[str]]:
    """The data after one random change, and the accounts whose inputs it changed."""
    identities = dict(current.identities)
    people_by_id = dict(current.people)
    pick = rng.random()
    if pick < 0.45:  # one account's identity
        account_id = f"acc-{rng.randrange(90):03d}"
        choice = rng.randrange(3)
        if choice == 0:
            identities.pop(account_id, None)
        elif choice == 1:
            identities[account_id] = staff(account_id, rng.choice(people), manual=True)
        else:
            identities[account_id] = not_staff(account_id, rng.choice([None, "shared inbox"]))
        changed = {account_id}
    elif pick < 0.85:  # one person
        who = rng.choice(list(people_by_id.values()))
        if rng.random() < 0.5:
            left = current.now - timedelta(hours=rng.randrange(0, 48))
            who = replace(who, status=PersonStatus.OFFBOARDED, offboarded_at=left)
        else:
            who = replace(who, status=PersonStatus.ACTIVE, job_role=rng.choice(ROLES))
        people_by_id[who.id] = who
        changed = {a for a, i in identities.items() if i.person_id == who.id}
    else:  # time passes (grace periods run out)
        return replace(current, now=current.now + timedelta(hours=rng.randrange(1, 30))), set()
    return replace(current, identities=identities, people=people_by_id), changed


def test_evaluating_from_what_was_held_equals_evaluating_from_scratch() -> None:
    rng = random.Random(2424)
    current, people = organization(rng)
    log = ChangeLog()
    current = replace(current, version=DataVersion(log, log.append(None)))
    held: dict[str, Verdicts | None] = {}
    for check in CHECKS:
        outcome, held[check.id] = check.evaluate_from(current, None)
        assert outcome == check.evaluate(current)
    incremental = 0
    for step in range(150):
        current, changed = one_change(rng, current, people)
        current = replace(current, version=DataVersion(log, log.append(frozenset(changed))))
        scratch = replace(current, version=None)  # nothing to evaluate from
        for check in CHECKS:
            if rng.random() < 0.3:
                continue  # not evaluated this time (another scope): it catches up later
            before = held[check.id]
            since = before.version if before is not None else None
            kept = dict(before.failing) if before is not None else {}
            waiting = set(before.deadlines) if before is not None else set()
            outcome, after = check.evaluate_from(current, before)
            held[check.id] = after
            assert outcome == check.evaluate(scratch), (step, check.id)
            items = outcome.failing_items
            assert items_sum(items) == sum(map(item_hash, items)) % (1 << 256)
            if after is None or after is not before:
                continue  # judged whole (gated before, or first time)
            incremental += 1
            # Only the accounts changed since this check's last evaluation, and those whose
            # grace period ran out, were judged; every other verdict kept its item object.
            assert current.version is not None
            touched = current.version.changed_since(since)
            assert touched is not None
            assert len(touched) <= after.judged <= len(touched) + len(waiting)
            untouched = {a: i for a, i in kept.items() if a not in touched and a not in waiting}
            assert all(after.failing.get(a) is i for a, i in untouched.items())
    assert incremental > 300  # most evaluations were incremental


def test_a_change_the_log_cannot_tell_judges_every_account() -> None:
    current, _ = organization(random.Random(7))
    log = ChangeLog()
    current = replace(current, version=DataVersion(log, log.append(None)))
    check = UserIdentified()
    _, held = check.evaluate_from(current, None)
    unknown = replace(current, identities={}, version=DataVersion(log, log.append(None)))
    outcome, _ = check.evaluate_from(unknown, held)
    assert outcome == check.evaluate(replace(unknown, version=None))
    assert len(outcome.failing_items) > len(check.evaluate(current).failing_items)
