"""Policy documents on both stores: auto-mapping, manual mapping, approval, unmapping."""

from __future__ import annotations

import pytest

from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.models import Framework, Principal, Role
from services.policies.catalogue import PolicyType
from services.policies.models import MappingMethod, PolicyStatus
from services.policies.service import PolicyService
from services.store import Store
from tests.policies.support import page, policy_snapshot, state_loader

T = PolicyType


async def _setup(store: Store) -> tuple[PolicyService, Principal, list[str]]:
    org = await store.organizations.create(name="Acme")
    changes: list[str] = []

    async def changed(organization_id: str) -> None:
        changes.append(organization_id)

    service = PolicyService(
        state_loader(store), policies=store.policies, on_policies_changed=changed
    )
    return service, Principal(org.id, Role.ADMIN, "key_admin"), changes


async def test_auto_mapping_first_title_wins_one_type_per_page(store: Store) -> None:
    service, admin, _ = await _setup(store)
    await policy_snapshot(
        store,
        admin.organization_id,
        [
            page("10", "Access Control Policy (2016)"),
            page("11", "access control policy"),
            page("12", "Information Security & Access Control Standard"),
            page("13", "Business-Continuity and Disaster Recovery Plan"),
            page("14", "Archived Incident Response Plan", status="archived"),
            page("15", "Third Party Risk Policy"),
            page("16", "Team Onboarding Guide"),
            page("17", "Encryption & Cryptography Policy"),
        ],
    )
    created = await service.auto_map(admin.organization_id)
    mapped = {d.policy_type: d.page_id for d in created}
    assert mapped == {
        T.ACCESS_CONTROL: "11",  # "access control policy" sorts before "... (2016)"
        T.INFORMATION_SECURITY: "12",  # its first matching type; a page maps to one type
        T.BUSINESS_CONTINUITY_DISASTER_RECOVERY: "13",
        T.VENDOR_MANAGEMENT: "15",
        T.ENCRYPTION_CRYPTOGRAPHY: "17",
    }
    assert all(d.status is PolicyStatus.DRAFT and d.method is MappingMethod.AUTO for d in created)
    assert await service.auto_map(admin.organization_id) == []  # existing mappings stay


async def test_manual_mapping_is_never_overridden_and_unmapping_is_remembered(
    store: Store,
) -> None:
    service, admin, changes = await _setup(store)
    org = admin.organization_id
    pages = [page("20", "Access Control Policy"), page("21", "Old access control notes")]
    await policy_snapshot(store, org, pages)
    requirement = await service.map_document(admin, T.ACCESS_CONTROL, "21")
    assert requirement.document is not None and requirement.document.page_id == "21"
    assert requirement.document.method is MappingMethod.MANUAL and changes == [org]
    assert await service.auto_map(org) == []  # the manual choice stands
    await service.unmap(admin, T.ACCESS_CONTROL)
    remapped = await service.auto_map(org)
    assert [(d.policy_type, d.page_id) for d in remapped] == [(T.ACCESS_CONTROL, "20")]
    await service.unmap(admin, T.ACCESS_CONTROL)
    assert await service.auto_map(org) == []  # both pages were unmapped by a person


async def test_mapping_rules_and_errors(store: Store) -> None:
    service, admin, _ = await _setup(store)
    org = admin.organization_id
    viewer = Principal(org, Role.VIEWER, "key_v")
    reviewer = Principal(org, Role.REVIEWER, "key_r")
    with pytest.raises(NotFound):
        await service.map_document(admin, T.ACCESS_CONTROL, "30")  # no snapshot yet
    await policy_snapshot(
        store,
        org,
        [page("30", "Access Control Policy"), page("31", "Gone", status="archived")],
    )
    with pytest.raises(Forbidden):
        await service.map_document(viewer, T.ACCESS_CONTROL, "30")
    with pytest.raises(Forbidden):
        await service.approve(reviewer, T.ACCESS_CONTROL)
    with pytest.raises(ValidationFailed):
        await service.map_document(admin, T.ACCESS_CONTROL, "  ")
    with pytest.raises(NotFound):
        await service.map_document(admin, T.ACCESS_CONTROL, "999")
    with pytest.raises(Conflict):
        await service.map_document(admin, T.ACCESS_CONTROL, "31")
    with pytest.raises(NotFound):
        await service.approve(admin, T.ACCESS_CONTROL)
    await service.map_document(admin, T.ACCESS_CONTROL, "30")
    with pytest.raises(Conflict) as taken:
        await service.map_document(admin, T.RISK_MANAGEMENT, "30")
    assert taken.value.code == "PAGE_ALREADY_MAPPED"
    approved = await service.approve(admin, T.ACCESS_CONTROL)
    assert approved.document is not None and approved.document.status is PolicyStatus.ACTIVE
    again = await service.map_document(admin, T.ACCESS_CONTROL, "30")
    assert again.document is not None and again.document.status is PolicyStatus.ACTIVE
    with pytest.raises(NotFound):
        await service.unmap(admin, T.RISK_MANAGEMENT)


async def test_requirements_follow_frameworks_and_show_page_facts(store: Store) -> None:
    service, admin, _ = await _setup(store)
    org = admin.organization_id
    await policy_snapshot(
        store,
        org,
        [page("40", "Access Control Policy", body="<h3>purpose</h3><h1>1. Scope:</h1>")],
    )
    await service.auto_map(org)
    soc2 = await service.requirements(admin)
    assert len(soc2) == 13 and soc2[0].definition.type is T.INFORMATION_SECURITY
    access = next(r for r in soc2 if r.definition.type is T.ACCESS_CONTROL)
    assert access.page is not None and access.page.missing_sections == ("Policy",)
    assert access.page.web_url and access.page.last_modified_at and access.page.version == 2
    await store.organizations.update_frameworks(
        organization_id=org, frameworks=[Framework.ISO27001]
    )
    iso = {r.definition.type for r in await service.requirements(admin)}
    assert T.PHYSICAL_SECURITY in iso and T.CODE_OF_CONDUCT not in iso and len(iso) == 15
