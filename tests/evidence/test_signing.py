"""Ed25519 evidence signing keys: encrypted at rest, rotatable, old keys keep verifying."""

from __future__ import annotations

import base64
import json

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from services.crypto import KeyRing
from services.evidence.keys import EvidenceSigner
from services.evidence.service import CHECKPOINT_FORMAT
from services.evidence.signing import signed_text, verify_signature
from services.evidence.verify import LinkProblem
from services.models import Principal, Role
from services.store import Store
from testkit.live import live_server
from tests.evidence.support import entry, service

ORG = "org_a"
VIEWER = Principal(organization_id=ORG, role=Role.VIEWER, api_key_id="key_1")
RING = KeyRing(b"r" * 32)


def _signer(store: Store, ring: KeyRing = RING) -> EvidenceSigner:
    return EvidenceSigner(store.evidence_keys, ring)


async def test_one_key_per_organization_encrypted_at_rest(store: Store) -> None:
    first = await _signer(store).key(ORG)
    again = await _signer(store).key(ORG)  # another process, same key ring
    other = await _signer(store).key("org_b")
    assert first.key_id == again.key_id != other.key_id
    stored = await store._db["evidence_signing_keys"].find_one({"_id": f"{ORG}:current"})
    private = first.secret()["ed25519"]
    assert private not in json.dumps(stored, default=str)
    assert stored["envelope"]["kid"] and stored["public_pem"] == first.public_pem
    assert repr(first) == f"SigningKey(key_id={first.key_id!r})"


async def test_checkpoints_are_signed_and_rotation_keeps_old_ones_valid(store: Store) -> None:
    evidence = service(store, signer=_signer(store))
    for n in range(1, 4):
        await evidence.record(entry(ORG, n))
    point = await evidence.checkpoint(ORG)
    assert point is not None and point["format"] == CHECKPOINT_FORMAT
    pem = await evidence.public_key(VIEWER)
    public = load_pem_public_key(pem.encode())
    assert isinstance(public, Ed25519PublicKey)
    public.verify(base64.b64decode(point["signature"]["value"]), signed_text(point))
    assert (await evidence.verify(VIEWER, point)).valid

    rotated = await _signer(store).rotate(ORG)
    assert rotated.key_id != point["signature"]["keyId"]
    assert await evidence.public_key(VIEWER) == rotated.pem
    keys = await _signer(store).public_keys(ORG)
    assert {k.key_id for k in keys} == {rotated.key_id, point["signature"]["keyId"]}
    assert (await evidence.verify(VIEWER, point)).valid  # signed by the retired key
    newer = await evidence.checkpoint(ORG)
    assert newer is not None and newer["signature"]["keyId"] == rotated.key_id

    forged = {**point, "createdAt": "2030-01-01T00:00:00.000Z"}  # HMAC still fine
    status = await evidence.verify(VIEWER, forged)
    assert status.broken is not None and status.broken.problem is LinkProblem.HEAD_MISMATCH
    assert "signature" in status.broken.message
    assert verify_signature(forged, {k.key_id: k.pem for k in keys}) is not None
    unknown = {**point, "signature": {**point["signature"], "keyId": "0" * 16}}
    assert not (await evidence.verify(VIEWER, unknown)).valid


async def test_hmac_only_checkpoints_still_verify(store: Store) -> None:
    plain = service(store)  # no signer: format 1, as before
    await plain.record(entry(ORG, 1))
    point = await plain.checkpoint(ORG)
    assert point is not None and point["format"] == "vigil-evidence-checkpoint/1"
    assert (await service(store, signer=_signer(store)).verify(VIEWER, point)).valid


async def test_the_public_key_over_graphql() -> None:
    async with live_server() as live:
        org, created = await live.container.services.organizations.create_organization("Acme")
        async with httpx.AsyncClient(timeout=30) as http:
            resp = await http.post(
                live.graphql_url,
                json={"query": "{ me { organization { id evidencePublicKey } } }"},
                headers={"Authorization": f"Bearer {created.secret}"},
            )
        signer = live.container.services.evidence.signer
        assert signer is not None
        expected = await signer.public_pem(org.id)
    organization = resp.json()["data"]["me"]["organization"]
    assert organization == {"id": org.id, "evidencePublicKey": expected}
    assert expected.startswith("-----BEGIN PUBLIC KEY-----")
