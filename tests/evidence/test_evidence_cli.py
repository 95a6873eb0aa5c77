"""`vigil evidence checkpoint` / `vigil evidence verify`: what an operator keeps outside."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from services.crypto import generate_key, parse_key
from services.evidence.chain import EvidenceKey
from services.evidence.service import EvidenceService
from services.store import Store
from tests.evidence.support import CHECKS, entry, raw


@pytest.mark.wire
async def test_checkpoint_then_truncation_fails_verification(
    wire_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_text = generate_key()
    db = f"vigil_cli_{uuid.uuid4().hex[:8]}"
    store = Store.open(wire_url, db)
    await store.ensure_indexes()
    evidence = EvidenceService(
        store.evidence,
        EvidenceKey(parse_key(key_text, name="k")),
        chunks=store.evidence_chunks,
        check_ids=lambda: CHECKS,
    )
    for n in range(1, 5):
        await evidence.record(entry("org_cli", n))
    monkeypatch.setenv("VIGIL_MONGODB_URL", wire_url)
    monkeypatch.setenv("VIGIL_MONGODB_DB", db)
    monkeypatch.setenv("VIGIL_EVIDENCE_HMAC_KEY", key_text)
    # Checkpoints are signed with the organization's Ed25519 key, kept under the secret key.
    monkeypatch.setenv("VIGIL_SECRET_KEY", generate_key())
    runner = CliRunner()
    try:
        made = await _in_thread(runner, ["evidence", "checkpoint", "--org", "org_cli"])
        assert made.exit_code == 0, made.output
        point = json.loads(made.stdout)
        assert point["sequence"] == 4 and key_text not in made.stdout
        assert point["format"] == "vigil-evidence-checkpoint/2"
        assert point["signature"]["alg"] == "Ed25519"
        path = tmp_path / "checkpoint.json"
        path.write_text(made.stdout)
        args = ["evidence", "verify", "--org", "org_cli", "--checkpoint", str(path)]
        ok = await _in_thread(runner, args)
        assert ok.exit_code == 0 and "valid: 4 records" in ok.stdout
        await raw(store).delete_one({"organization_id": "org_cli", "sequence": 4})
        # Rewind the head the only way a database writer can: with the seal it had at #3.
        third = await raw(store).find_one({"organization_id": "org_cli", "sequence": 3})
        await store._db["evidence_heads"].update_one(
            {"_id": "org_cli"}, {"$set": {"sequence": 3, "sha256": third["sha256"]}}
        )
        broken = await _in_thread(runner, args)
        assert broken.exit_code == 1 and "BROKEN" in broken.stdout
    finally:
        await store.drop()
        store.close()


async def _in_thread(runner: CliRunner, args: list[str]) -> Result:
    """``vigil …`` runs its own event loop: call it from a thread."""
    return await asyncio.to_thread(runner.invoke, app, args)
