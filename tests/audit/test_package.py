"""The auditor's package from the demo data: contents, the download route's errors, and the
offline verifier against an untouched package and 18 different tamperings."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import verify_bundle
from tests.audit.support import DemoPackage

Files = dict[str, bytes]


def _files(package: bytes) -> Files:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {info.filename: z.read(info.filename) for info in z.infolist()}


def _zip(files: Files, order: list[str] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in order or list(files):
            z.writestr(name, files[name])
    return out.getvalue()


def _verify(package: bytes, pem: bytes, tmp_path: Path) -> str:
    path = tmp_path / "bundle.zip"
    path.write_bytes(package)
    try:
        return verify_bundle.verify(str(path), pem)
    except verify_bundle.Failed as failure:
        return f"FAIL: {failure}"


def _lines(files: Files, name: str) -> list[bytes]:
    return files[name].splitlines(keepends=True)


def _records(files: Files) -> list[dict[str, object]]:
    return [json.loads(line) for line in _lines(files, "evidence/records.jsonl")]


def test_the_package_holds_what_an_auditor_expects(demo_package: DemoPackage) -> None:
    files = _files(demo_package.zip_bytes)
    for name in (
        "manifest.json",
        "report.html",
        "verify_bundle.py",
        "evidence/records.jsonl",
        "evidence/blobs.jsonl",
        "evidence/chain.json",
        "checks/history.csv",
        "checks/exceptions.csv",
        "checks/controls.json",
        "populations/user-access-list.csv",
        "populations/user-access-list.json",
        "populations/terminated-users.csv",
        "reviews/review-decisions.csv",
        "reviews/review-completion.csv",
        "remediation/actions.csv",
        "remediation/actions.json",
        "policies/policy-documents.csv",
    ):
        assert name in files, name
    manifest = json.loads(files["manifest.json"])
    assert manifest["organization"]["id"] == demo_package.organization_id
    assert {f["path"] for f in manifest["files"]} == set(files) - {"manifest.json"}
    assert files["verify_bundle.py"] == Path(verify_bundle.__file__).read_bytes()
    records = _records(files)
    checks = {r["checkId"] for r in records}
    assert "confluence-offboarded-access-removed" in checks and len(checks) >= 5
    access = list(csv.DictReader(io.StringIO(files["populations/user-access-list.csv"].decode())))
    assert access and all(row["accountId"] for row in access)
    assert any(row["accessVia"] for row in access) and any(row["personEmail"] for row in access)
    terminated = list(
        csv.DictReader(io.StringIO(files["populations/terminated-users.csv"].decode()))
    )
    assert any(row["offboardedAt"] and row["flaggedSince"] for row in terminated)
    actions = json.loads(files["remediation/actions.json"])
    assert actions[0]["readBack"]["confirmed"] is True and actions[0]["calls"][0]["status"] == 204
    report = files["report.html"].decode()
    assert "<script" not in report and "http://" not in report.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert report.count("<svg") >= 7 and "CC6.1" in report and "A.5.18" in report


def test_the_download_route_refuses_like_the_export(demo_package: DemoPackage) -> None:
    status, body = demo_package.responses["bad_period"]
    assert status == 400 and "to is before from" in body["errors"][0]["message"]
    assert demo_package.responses["no_key"][0] == 401
    status, body = demo_package.responses["viewer"]
    assert status == 403 and "ADMIN or REVIEWER" in body["errors"][0]["message"]


def test_an_untouched_package_verifies(demo_package: DemoPackage, tmp_path: Path) -> None:
    out = _verify(demo_package.zip_bytes, demo_package.public_pem, tmp_path)
    assert out.startswith("OK: "), out


def _edit_line(name: str, number: int, change: Callable[[dict[str, object]], None]):  # type: ignore[no-untyped-def]
    def tamper(files: Files) -> None:
        lines = _lines(files, name)
        value = json.loads(lines[number])
        change(value)
        lines[number] = (json.dumps(value) + "\n").encode()
        files[name] = b"".join(lines)

    return tamper


def _edit_body(number: int, old: str, new: str, rehash: bool = False):  # type: ignore[no-untyped-def]
    def change(record: dict[str, object]) -> None:
        body = str(record["body"])
        assert old in body
        record["body"] = body.replace(old, new, 1)
        if rehash:
            record["sha256"] = verify_bundle.sha256(str(record["body"]).encode())

    return _edit_line("evidence/records.jsonl", number, change)


def _replace(name: str, old: bytes, new: bytes):  # type: ignore[no-untyped-def]
    def tamper(files: Files) -> None:
        assert old in files[name], (name, old)
        files[name] = files[name].replace(old, new, 1)

    return tamper


def _drop_line(number: int):  # type: ignore[no-untyped-def]
    def tamper(files: Files) -> None:
        lines = _lines(files, "evidence/records.jsonl")
        del lines[number]
        files["evidence/records.jsonl"] = b"".join(lines)

    return tamper


def _swap_lines(files: Files) -> None:
    lines = _lines(files, "evidence/records.jsonl")
    lines[1], lines[2] = lines[2], lines[1]
    files["evidence/records.jsonl"] = b"".join(lines)


def _duplicate_line(files: Files) -> None:
    lines = _lines(files, "evidence/records.jsonl")
    lines.insert(2, lines[1])
    files["evidence/records.jsonl"] = b"".join(lines)


def _swap_checkpoints(files: Files) -> None:
    chain = json.loads(files["evidence/chain.json"])
    chain["end"] = chain["start"] or {**chain["end"], "sequence": 1}
    files["evidence/chain.json"] = json.dumps(chain).encode()


def _resign(files: Files) -> None:
    """Change a CSV, fix its hash in the manifest and sign the manifest with another key."""
    files["checks/history.csv"] += b"999,evd_forged,x,check,,,PASSING,0,0,,,\r\n"
    manifest = json.loads(files["manifest.json"])
    for f in manifest["files"]:
        if f["path"] == "checks/history.csv":
            f["sha256"] = verify_bundle.sha256(files["checks/history.csv"])
    other = Ed25519PrivateKey.generate()
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    raw = other.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    manifest["signature"] = {
        "alg": "Ed25519",
        "keyId": verify_bundle.sha256(raw)[:16],
        "value": __import__("base64")
        .b64encode(other.sign(verify_bundle.canonical(unsigned)))
        .decode(),
    }
    files["manifest.json"] = json.dumps(manifest).encode()


def _edit_manifest_hash(files: Files) -> None:
    manifest = json.loads(files["manifest.json"])
    manifest["files"][0]["sha256"] = "0" * 64
    files["manifest.json"] = json.dumps(manifest).encode()


def _edit_blob(files: Files) -> None:
    lines = _lines(files, "evidence/blobs.jsonl")
    for i, line in enumerate(lines):
        blob = json.loads(line)
        text = blob["text"]
        if not (text.startswith("[") and '"accountId"' in text):
            continue
        # Flip one account's access either way: a chunk may hold only one of the values
        # (chunks are cut by content, so which accounts share one varies from run to run).
        for before, after in (
            ('"hasAccess":false', '"hasAccess":true'),
            ('"hasAccess":true', '"hasAccess":false'),
        ):
            if before in text:
                blob["text"] = text.replace(before, after, 1)
                lines[i] = (json.dumps(blob) + "\n").encode()
                files["evidence/blobs.jsonl"] = b"".join(lines)
                return
    raise AssertionError("no population chunk with an account's access")


def _drop_blob(files: Files) -> None:
    lines = _lines(files, "evidence/blobs.jsonl")
    files["evidence/blobs.jsonl"] = b"".join(
        line for line in lines if not json.loads(line)["text"].startswith('[{"accessVia"')
    )


def _edited_file(name: str, old: bytes, new: bytes) -> tuple[Callable[[Files], None], str]:
    """A file's content edited (``old`` to ``new``), and what the verifier says of it."""
    return _replace(name, old, new), f"{name}: its SHA-256 differs"


TAMPERINGS: dict[str, tuple[Callable[[Files], None], str]] = {
    "edit a CSV cell": _edited_file("populations/user-access-list.csv", b",true,", b",false,"),
    "edit a population entry": _edited_file(
        "populations/user-access-list.json", b'"hasAccess":true', b'"hasAccess":false'
    ),
    "edit the report": _edited_file("report.html", b"Audit package", b"Audit packagE"),
    "edit a review CSV": _edited_file("reviews/review-completion.csv", b"reviewId", b"reviewID"),
    "edit a remediation answer": _edited_file("remediation/actions.json", b"204", b"500"),
    "edit a record's status": (
        _edit_body(2, '"status":"', '"status":"X'),
        "record #{seq2} ({id2}): its body does not hash",
    ),
    "edit a record and re-hash it": (
        _edit_body(2, '"status":"', '"status":"X', rehash=True),
        "record #{seq3} ({id3}): prevHash is not the previous record's hash",
    ),
    "drop a record": (_drop_line(2), "record #{seq3} ({id3}): expected record #{seq2}"),
    "drop the newest record": (_drop_line(-1), "the records end at #{seqm2}"),
    "reorder two records": (_swap_lines, "record #{seq2} ({id2}): expected record #{seq1}"),
    "duplicate a record": (_duplicate_line, "record #{seq1} ({id1}): expected record #{seq2}"),
    "swap a checkpoint": (_swap_checkpoints, "evidence/chain.json: the end checkpoint"),
    "re-sign with another key": (_resign, "manifest.json: signed by key"),
    "change a file's hash in the manifest": (
        _edit_manifest_hash,
        "manifest.json: the signature does not verify",
    ),
    "edit a population chunk": (_edit_blob, "): population.items: its chunk"),
    "delete a population chunk": (_drop_blob, "is missing from evidence/blobs.jsonl"),
    "add a file": (
        lambda files: files.__setitem__("notes.txt", b"all good"),
        "notes.txt: not listed in the manifest",
    ),
    "remove a file": (
        lambda files: files.pop("checks/exceptions.csv"),
        "checks/exceptions.csv: listed in the manifest but missing",
    ),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_every_tampering_is_found_and_named(
    demo_package: DemoPackage, tmp_path: Path, name: str
) -> None:
    files = _files(demo_package.zip_bytes)
    records = _records(files)
    where = {"seqm2": records[-1]["sequence"] - 1}  # type: ignore[operator]
    for i in range(4):
        where[f"seq{i}"], where[f"id{i}"] = records[i]["sequence"], records[i]["id"]
    tamper, expected = TAMPERINGS[name]
    tamper(files)
    out = _verify(_zip(files), demo_package.public_pem, tmp_path)
    assert out.startswith("FAIL: ") and expected.format(**where) in out, out


def test_a_truncated_zip_is_found(demo_package: DemoPackage, tmp_path: Path) -> None:
    out = _verify(
        demo_package.zip_bytes[: len(demo_package.zip_bytes) // 2],
        demo_package.public_pem,
        tmp_path,
    )
    assert out.startswith("FAIL: ") and "not a complete zip archive" in out, out


def test_another_key_is_refused(demo_package: DemoPackage, tmp_path: Path) -> None:
    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    out = _verify(demo_package.zip_bytes, other, tmp_path)
    assert out.startswith("FAIL: manifest.json: signed by key"), out
