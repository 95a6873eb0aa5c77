"""Identity resolution and decisions (SPEC §4); the classification filter. Both stores."""

from __future__ import annotations

import pytest

from api.container import Container
from services.errors import Forbidden, NotFound, ValidationFailed
from services.identity.models import Classification, IdentityMethod, NotStaffKind
from services.models import AccountStatus, AccountType, Role
from services.people.models import PersonStatus
from services.people.validation import PersonDraft
from services.store import Store
from services.sync.models import AccountFilter
from tests.access.builders import account
from tests.access.support import connected, make_app, principal, seed_snapshot

ORG = "org_identity"
ADMIN = principal(ORG)
ACCOUNTS = [
    account("acc-ann", email="Ann@Acme.test"),
    account("acc-bob", email="bob@acme.test"),
    account("acc-hidden", email=None),
    account("acc-app", email=None, type="app"),
    account("acc-old", email="old@acme.test", status="inactive"),
]


def person(email: str) -> PersonDraft:
    return PersonDraft(email, email.split("@")[0], PersonStatus.ACTIVE, "Engineer", None, None)


async def setup(store: Store) -> Container:
    app = make_app(store)
    integration = await connected(store, ORG)
    await seed_snapshot(store, integration, ACCOUNTS, "snap_id_1")
    return app


async def classes(app: Container) -> dict[str, tuple[Classification, IdentityMethod | None]]:
    page = await app.services.accounts.accounts(ADMIN, None, None, None)
    return {
        v.account.account_id: (v.identity.classification, v.identity.method) for _, v in page.items
    }


async def test_automatic_resolution_and_manual_decisions(store: Store) -> None:
    app = await setup(store)
    await app.services.people.upsert(ADMIN, [person("ann@acme.test"), person("zed@acme.test")])
    got = await classes(app)
    assert got["acc-ann"] == (Classification.STAFF, IdentityMethod.AUTO_EMAIL)
    assert got["acc-app"] == (Classification.NOT_STAFF, IdentityMethod.AUTO_APP)
    assert got["acc-bob"] == (Classification.UNIDENTIFIED, None)
    assert got["acc-hidden"] == (Classification.UNIDENTIFIED, None)

    zed = (await app.services.people.list_people(ADMIN, None, None, None)).items[1][1]
    linked = await app.services.identities.link(ADMIN, "acc-ann", zed.id)
    assert linked.person == zed and linked.identity.method is IdentityMethod.MANUAL
    assert linked.identity.decided_by == ADMIN.api_key_id
    await app.services.identities.mark_not_staff(
        ADMIN, "acc-hidden", NotStaffKind.SHARED, " team inbox "
    )

    # More people and a re-resolution never overwrite a manual decision.
    await app.services.people.upsert(ADMIN, [person("bob@acme.test")])
    assert await app.services.identities.resolve(ORG) == 0
    got = await classes(app)
    assert got["acc-ann"] == (Classification.STAFF, IdentityMethod.MANUAL)
    assert got["acc-bob"] == (Classification.STAFF, IdentityMethod.AUTO_EMAIL)
    view = await app.services.identities.view(ORG, "acc-hidden")
    assert (view.identity.kind, view.identity.reason) == (NotStaffKind.SHARED, "team inbox")

    # Clearing removes the decision: the automatic rules apply again at once.
    cleared = await app.services.identities.clear(ADMIN, "acc-ann")
    assert cleared.identity.method is IdentityMethod.AUTO_EMAIL and cleared.person is not None
    assert cleared.person.email == "ann@acme.test"
    cleared = await app.services.identities.clear(ADMIN, "acc-hidden")
    assert cleared.identity.classification is Classification.UNIDENTIFIED


async def test_decisions_are_validated_and_scoped(store: Store) -> None:
    app = await setup(store)
    with pytest.raises(ValidationFailed):
        await app.services.identities.mark_not_staff(ADMIN, "acc-bob", NotStaffKind.SERVICE, "  ")
    with pytest.raises(NotFound):
        await app.services.identities.link(ADMIN, "acc-bob", "per_nobody")
    with pytest.raises(NotFound):
        await app.services.identities.mark_not_staff(
            ADMIN, "acc-missing", NotStaffKind.SERVICE, "x"
        )
    with pytest.raises(NotFound):  # another organization has no such snapshot account
        await app.services.identities.clear(principal("org_other"), "acc-bob")
    with pytest.raises(Forbidden):
        await app.services.identities.clear(principal(ORG, Role.REVIEWER), "acc-bob")


async def test_classification_filter(store: Store) -> None:
    app = await setup(store)
    await app.services.people.upsert(ADMIN, [person("ann@acme.test"), person("old@acme.test")])

    async def ids(**fields: object) -> list[str]:
        page = await app.services.accounts.accounts(ADMIN, AccountFilter(**fields), None, None)  # type: ignore[arg-type]
        return [v.account.account_id for _, v in page.items]

    assert await ids(classification="STAFF") == ["acc-ann", "acc-old"]
    assert await ids(classification="STAFF", status=AccountStatus.ACTIVE) == ["acc-ann"]
    assert await ids(classification="NOT_STAFF") == ["acc-app"]
    assert await ids(classification="UNIDENTIFIED") == ["acc-bob", "acc-hidden"]
    assert await ids(classification="UNIDENTIFIED", search="BOB") == ["acc-bob"]
    first = await app.services.accounts.accounts(
        ADMIN, AccountFilter(classification="UNIDENTIFIED"), 1, None
    )
    assert first.total_count == 2 and first.has_next_page
    rest = await app.services.accounts.accounts(
        ADMIN, AccountFilter(classification="UNIDENTIFIED"), 1, first.end_cursor
    )
    assert [v.account.account_id for _, v in rest.items] == ["acc-hidden"]
    with pytest.raises(ValidationFailed):
        await ids(classification="FRIEND")


async def test_person_status_filter_and_the_accounts_of_a_person(store: Store) -> None:
    app = await setup(store)
    people = app.services.people
    await people.upsert(
        ADMIN, [person("ann@acme.test"), person("bob@acme.test"), person("old@acme.test")]
    )
    by_email = {p.email: p for _, p in (await people.list_people(ADMIN, None, None, None)).items}
    ann, old = by_email["ann@acme.test"], by_email["old@acme.test"]
    await app.services.identities.link(ADMIN, "acc-hidden", ann.id)  # a second account of Ann
    await people.offboard(ADMIN, old.id, None)

    async def ids(**fields: object) -> list[str]:
        page = await app.services.accounts.accounts(ADMIN, AccountFilter(**fields), None, None)  # type: ignore[arg-type]
        return [v.account.account_id for _, v in page.items]

    assert await ids(person_status="OFFBOARDED") == ["acc-old"]
    assert await ids(person_status="ACTIVE") == ["acc-ann", "acc-bob", "acc-hidden"]
    assert await ids(person_status="ACTIVE", search="hidden") == ["acc-hidden"]
    assert await ids(person_status="OFFBOARDED", status=AccountStatus.ACTIVE) == []
    first = await app.services.accounts.accounts(
        ADMIN, AccountFilter(person_status="ACTIVE"), 2, None
    )
    assert first.total_count == 3 and first.has_next_page
    with pytest.raises(ValidationFailed):
        await ids(person_status="RETIRED")

    async def of(person_id: str) -> list[str]:
        return [
            v.account.account_id for v in await app.services.accounts.of_person(ADMIN, person_id)
        ]

    assert await of(ann.id) == ["acc-ann", "acc-hidden"]
    assert await of(old.id) == ["acc-old"]
    await app.services.identities.clear(ADMIN, "acc-hidden")  # the link is gone at once
    assert await of(ann.id) == ["acc-ann"]
    assert await app.services.accounts.of_person(principal("org_other"), ann.id) == []
    # A search and two filters at once page in memory too (issue 24), as the store would.
    assert await ids(search="ACME.TEST") == ["acc-ann", "acc-bob", "acc-old"]
    assert await ids(status=AccountStatus.ACTIVE, account_type=AccountType.APP) == ["acc-app"]
    searched = await app.services.accounts.accounts(ADMIN, AccountFilter(search="acme"), 2, None)
    assert searched.total_count == 3 and searched.has_next_page
    last = await app.services.accounts.accounts(
        ADMIN, AccountFilter(search="acme"), 2, searched.end_cursor
    )
    assert [v.account.account_id for _, v in last.items] == ["acc-old"]
    # What is kept of a filter for its next pages follows the identities and the people.
    bob = await app.services.people.upsert(ADMIN, [person("robert@acme.test")])
    await app.services.identities.link(ADMIN, "acc-bob", bob.people[0].id)
    assert await ids(classification="UNIDENTIFIED") == ["acc-hidden"]
    staff = await app.services.accounts.accounts(
        ADMIN, AccountFilter(classification="STAFF", search="bob"), None, None
    )
    [(_, view)] = staff.items
    assert view.person is not None and view.person.email == "robert@acme.test"
    # One account is one document read, not the snapshot.
    found = await app.services.accounts.account(ADMIN, "acc-old")
    assert found is not None and found.person is not None
    assert await app.services.accounts.account(ADMIN, "acc-nobody") is None
