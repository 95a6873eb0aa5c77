"""Canonical JSON, sealing and verification, without a database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.errors import ConfigurationError
from services.evidence.chain import (
    GENESIS_HASH,
    EvidenceKey,
    canonical_json,
    evidence_key_from_settings,
    seal,
    sha256_hex,
)
from services.evidence.models import ChainHead
from services.evidence.verify import ChainVerifier, LinkProblem
from tests.evidence.support import KEY, entry, prepared_chain, signed_head


def test_canonical_json_sorts_keys_drops_whitespace_and_normalises_times() -> None:
    paris = timezone(timedelta(hours=1))
    value = {"b": [1, 2.5, None], "a": datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=paris)}
    assert canonical_json(value) == '{"a":"2026-03-01T09:00:00.123Z","b":[1,2.5,null]}'
    assert canonical_json({"é": "ü"}) == '{"é":"ü"}'
    assert canonical_json(datetime(2026, 1, 1)) == '"2026-01-01T00:00:00.000Z"'  # naive = UTC


@pytest.mark.parametrize("bad", [float("nan"), object()])
def test_canonical_json_refuses_values_without_a_canonical_form(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        canonical_json({"x": bad})


def test_sealed_body_is_canonical_and_hash_covers_prev_hash() -> None:
    first, second = prepared_chain("org_a", 2)
    body = json.loads(second.body)
    assert canonical_json(body) == second.body
    assert body["prevHash"] == first.sha256 and body["sequence"] == 2
    assert json.loads(first.body)["prevHash"] == GENESIS_HASH
    assert second.sha256 == sha256_hex(second.body)
    assert KEY.verify(second.sha256, second.hmac)
    assert not EvidenceKey(b"x" * 32).verify(second.sha256, second.hmac)


def test_key_never_shows_its_value() -> None:
    secret = b"s3cr3t-key-material-0123456789ab"
    assert secret.decode() not in repr(EvidenceKey(secret))


def test_key_from_settings_production_requires_it_development_warns() -> None:
    with pytest.raises(ConfigurationError, match="VIGIL_EVIDENCE_HMAC_KEY"):
        evidence_key_from_settings(None, development=False)
    key, warning = evidence_key_from_settings("", development=True)
    assert warning and "ephemeral" in warning and len(key.key_id) == 16
    with pytest.raises(ConfigurationError, match="base64"):
        evidence_key_from_settings("not base64!", development=True)


def _verify(records: list, head: ChainHead | None = None):  # type: ignore[no-untyped-def]
    verifier = ChainVerifier(KEY, "org_a", head=head)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.finish()


def test_a_valid_chain_verifies() -> None:
    records = prepared_chain("org_a", 50)
    status = _verify(records, signed_head("org_a", 50, records[-1].sha256))
    assert status.valid and status.checked_count == 50 and status.head_sequence == 50


def test_each_kind_of_break_is_found_at_its_record() -> None:
    records = prepared_chain("org_a", 6)
    edited = replace(records[2], body=records[2].body.replace('"pages"', '"pagez"'))
    cases = {
        LinkProblem.HASH_MISMATCH: [*records[:2], edited, *records[3:]],
        LinkProblem.HMAC_MISMATCH: [
            *records[:2],
            replace(edited, sha256=sha256_hex(edited.body)),
            *records[3:],
        ],
        LinkProblem.SEQUENCE_GAP: [*records[:2], *records[3:]],
        LinkProblem.SEQUENCE_REORDER: [
            *records[:2],
            replace(records[3], sequence=3),
            replace(records[2], sequence=4),
            *records[4:],
        ],
        LinkProblem.FIELD_MISMATCH: [
            *records[:2],
            replace(records[2], check_id="other"),
            *records[3:],
        ],
    }
    forged = prepared_chain("org_a", 3, key=EvidenceKey(b"z" * 32))[2]
    for problem, chain in cases.items():
        status = _verify(chain)
        assert not status.valid and status.broken is not None, problem
        assert status.broken.problem is problem, (problem, status.broken)
        assert status.broken.sequence == 3, problem
        assert status.checked_count == 2
    status = _verify([*records[:2], forged])
    assert status.broken is not None and status.broken.problem is LinkProblem.HMAC_MISMATCH
    assert "key id" in status.broken.message


def test_a_fork_signed_with_the_right_key_is_a_prev_hash_mismatch() -> None:
    main = prepared_chain("org_a", 4)
    other = prepared_chain("org_b", 4)  # different bodies, so different hashes at #2
    fork = seal(
        entry("org_a", 3),
        record_id=main[2].id,
        sequence=3,
        prev_hash=other[1].sha256,
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        key=KEY,
    )
    status = _verify([*main[:2], fork, main[3]])
    assert status.broken is not None
    assert status.broken.problem is LinkProblem.PREV_HASH_MISMATCH
    assert (status.broken.sequence, status.broken.record_id) == (3, main[2].id)


def test_records_missing_at_the_end_are_found_through_the_head() -> None:
    records = prepared_chain("org_a", 5)
    status = _verify(records[:3], signed_head("org_a", 5, records[-1].sha256))
    assert status.broken is not None and status.broken.problem is LinkProblem.SEQUENCE_GAP
    assert status.broken.sequence == 4 and status.broken.record_id is None
    assert "#4-#5" in status.broken.message


def test_an_entry_with_an_integration_but_no_snapshot_verifies() -> None:
    # Remediation records name their integration but no snapshot: what is stored must be
    # exactly what the body seals, or verification reports a FIELD_MISMATCH.
    plain = replace(entry("org_a", 1), integration_id="int_1")
    record = seal(
        plain,
        record_id="evd_org_a_000001",
        sequence=1,
        prev_hash=GENESIS_HASH,
        recorded_at=plain.evaluated_at,
        key=KEY,
    )
    assert record.integration_id is None
    status = _verify([record], signed_head("org_a", 1, record.sha256))
    assert status.valid, status.broken
