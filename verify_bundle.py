"""Verify a Vigil audit package offline: python verify_bundle.py bundle.zip --public-key key.pem

Needs Python 3.11+ and the `cryptography` package only; it imports nothing of Vigil. Get the
organization's public key from its Vigil operator out of band (`vigil evidence public-key`
or the API's `organization { evidencePublicKey }`), not from the package itself.

What it checks, in this order, stopping at the first failure (printed as FAIL: file, record
and why; exit status 1). OK is printed only when everything holds (exit status 0):

1. the zip is complete and readable;
2. manifest.json is signed (Ed25519) by the public key you trust;
3. the files in the zip are exactly the ones the manifest lists;
4. the evidence chain (evidence/records.jsonl): each record's body hashes to its SHA-256,
   names its own sequence and id, and links to the previous record's hash (prevHash), from
   the signed checkpoint before the period (start) to the signed checkpoint at its end
   (end); each list a record refers to (population, failing items...) is in
   evidence/blobs.jsonl, complete and hashing to its address;
5. every file's SHA-256 equals the manifest's.

It cannot check the records' HMACs (they need Vigil's secret key): the hashes, the links
and the Ed25519 signatures of the checkpoints and the manifest take their place.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "vigil-audit-package/1"
CHAIN_FORMAT = "vigil-audit-chain/1"
CHECKPOINT_FORMAT = "vigil-evidence-checkpoint/2"
CHUNKS_FORMAT = "vigil-chunks/1"
GENESIS = "0" * 64
ACTOR_KINDS = ("PERSON", "API_KEY", "SYSTEM")  # services/evidence/chain.py
LIST_PLACES = (
    ("population", "items"),
    ("result", "failingItems"),
    ("result", "exceptedItems"),
    ("result", "exceptions"),
)


class Failed(Exception):
    """The first thing that does not hold: in which file (and record), and why."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(value: Any) -> bytes:
    """Vigil's canonical JSON: sorted keys, no spaces, UTF-8 (what is hashed and signed)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256(raw)[:16]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise Failed("--public-key", "not an Ed25519 public key")
    return key


def check_signature(where: str, value: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> None:
    """``value["signature"]`` must be an Ed25519 signature, by one of ``keys``, over the
    canonical JSON of ``value`` without its signature."""
    signature = value.get("signature")
    if not isinstance(signature, dict) or signature.get("alg") != "Ed25519":
        raise Failed(where, "it carries no Ed25519 signature")
    key = keys.get(str(signature.get("keyId")))
    if key is None:
        raise Failed(where, f"signed by key {signature.get('keyId')!r}, not the key you trust")
    unsigned = {k: v for k, v in value.items() if k != "signature"}
    try:
        key.verify(
            base64.b64decode(str(signature.get("value")), validate=True), canonical(unsigned)
        )
    except (InvalidSignature, ValueError):
        raise Failed(where, "the signature does not verify (the content was changed)") from None


def read_json(bundle: zipfile.ZipFile, name: str) -> Any:
    try:
        return json.loads(bundle.read(name))
    except KeyError:
        raise Failed(name, "missing from the package") from None
    except ValueError:
        raise Failed(name, "not valid JSON") from None


def verify(path: str, pem: bytes) -> str:
    """Check the package at ``path``; a one-line summary, or ``Failed``."""
    trusted = load_public_key(pem)
    try:
        bundle = zipfile.ZipFile(path)
        bundle.testzip()  # every entry's CRC-32: a truncated or damaged zip fails here
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise Failed(path, f"not a complete zip archive ({exc})") from None
    with bundle:
        manifest = read_json(bundle, "manifest.json")
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise Failed("manifest.json", f"not a {BUNDLE_FORMAT} manifest")
        check_signature("manifest.json", manifest, {key_id(trusted): trusted})
        files = check_file_list(bundle, manifest)
        # Keys the organization signed checkpoints with: vouched for by the signed manifest.
        keys = {key_id(trusted): trusted}
        for kid, key_pem in dict(manifest.get("signingKeys") or {}).items():
            keys[str(kid)] = load_public_key(str(key_pem).encode("ascii"))
        records = check_chain(bundle, manifest, keys)
        for name, expected in files.items():
            digest = hashlib.sha256()
            with bundle.open(name) as data:
                while block := data.read(1 << 20):
                    digest.update(block)
            if digest.hexdigest() != expected:
                raise Failed(name, "its SHA-256 differs from the manifest (the file was changed)")
    period = manifest.get("period", {})
    return (
        f"OK: {len(files)} files and {records} evidence records of "
        f"{manifest.get('organization', {}).get('id')} from {period.get('from')} to "
        f"{period.get('to')}; manifest and checkpoints signed by key {key_id(trusted)}"
    )


def check_file_list(bundle: zipfile.ZipFile, manifest: dict[str, Any]) -> dict[str, str]:
    """The zip holds exactly the files the manifest lists (and the manifest)."""
    listed = manifest.get("files")
    if not isinstance(listed, list):
        raise Failed("manifest.json", "lists no files")
    files = {str(f.get("path")): str(f.get("sha256")) for f in listed if isinstance(f, dict)}
    names = [info.filename for info in bundle.infolist()]
    if len(names) != len(set(names)):
        twice = sorted({n for n in names if names.count(n) > 1})[0]
        raise Failed(twice, "the package holds this file twice")
    for name in names:
        if name != "manifest.json" and name not in files:
            raise Failed(name, "not listed in the manifest (a file was added)")
    for name in files:
        if name not in names:
            raise Failed(name, "listed in the manifest but missing from the package")
    return files


def check_chain(bundle: zipfile.ZipFile, manifest: dict[str, Any], keys: dict[str, Any]) -> int:
    """The period's records, linked from the start checkpoint to the end checkpoint."""
    org = manifest.get("organization", {}).get("id")
    chain = read_json(bundle, "evidence/chain.json")
    if not isinstance(chain, dict) or chain.get("format") != CHAIN_FORMAT:
        raise Failed("evidence/chain.json", f"not a {CHAIN_FORMAT} file")
    start, end = chain.get("start"), chain.get("end")
    for name, point in (("start", start), ("end", end)):
        if point is None:
            continue
        where = f"evidence/chain.json: the {name} checkpoint"
        if point.get("format") != CHECKPOINT_FORMAT or point.get("organizationId") != org:
            raise Failed(where, "not a signed checkpoint of this organization")
        check_signature(where, point, keys)
    blobs = read_blobs(bundle)
    sequence, previous = (start["sequence"], start["sha256"]) if start else (0, GENESIS)
    count = 0
    with bundle.open("evidence/records.jsonl") as lines:
        for number, line in enumerate(lines, start=1):
            sequence += 1
            previous = check_record(line, number, sequence, previous, org, blobs)
            count += 1
    if end is None:
        if count:
            raise Failed("evidence/chain.json", "records but no end checkpoint")
    elif (sequence, previous) != (end["sequence"], end["sha256"]):
        raise Failed(
            "evidence/records.jsonl",
            f"the records end at #{sequence}, but the signed end checkpoint is record "
            f"#{end['sequence']} with another hash (records dropped, added or changed at the end)",
        )
    for address, problem in sorted(blobs.bad.items()):
        raise Failed("evidence/blobs.jsonl", f"blob {address[:12]}…: {problem}")
    return count


def check_record(
    line: bytes, number: int, sequence: int, previous: str, org: Any, blobs: Blobs
) -> str:
    """One line of records.jsonl; its hash (the next record's prevHash)."""
    where = f"evidence/records.jsonl: line {number}"
    try:
        stored = json.loads(line)
        body_text = stored["body"]
        body = json.loads(body_text)
    except (ValueError, KeyError, TypeError):
        raise Failed(where, "not a readable record") from None
    where = f"evidence/records.jsonl: record #{stored.get('sequence')} ({stored.get('id')})"
    if sha256(body_text.encode("utf-8")) != stored.get("sha256"):
        raise Failed(where, "its body does not hash to its SHA-256 (the record was changed)")
    if body.get("sequence") != stored.get("sequence") or body.get("id") != stored.get("id"):
        raise Failed(where, f"sealed as #{body.get('sequence')} ({body.get('id')})")
    if body.get("sequence") != sequence:
        raise Failed(
            where,
            f"expected record #{sequence} here (a record is missing, repeated or out of order)",
        )
    if body.get("prevHash") != previous:
        raise Failed(where, "prevHash is not the previous record's hash (the chain is broken)")
    if body.get("organizationId") != org:
        raise Failed(where, f"a record of another organization ({body.get('organizationId')})")
    if body.get("version") == 3:  # format 2 and who acted (docs/api-changes.md, issue 25)
        actor = body.get("actor")
        if not isinstance(actor, dict) or actor.get("kind") not in ACTOR_KINDS:
            raise Failed(where, "the body does not say who acted (actor)")
    if body.get("version") in (2, 3):
        for parent, name in LIST_PLACES:
            holder = body.get(parent)
            if isinstance(holder, dict) and name in holder:
                problem = blobs.check_list(holder[name])
                if problem:
                    raise Failed(where, f"{parent}.{name}: {problem}")
    elif body.get("version") != 1:
        raise Failed(where, f"unknown body format {body.get('version')!r}")
    return str(stored["sha256"])


class Blobs:
    """evidence/blobs.jsonl: lists kept apart from the records, by the SHA-256 of their text.
    A list is a manifest ``{"chunks": [{"count", "sha256"}...], "count", "format"}`` whose
    hash is the list's root, and its chunks (JSON arrays)."""

    def __init__(self) -> None:
        self.good: set[str] = set()
        self.bad: dict[str, str] = {}  # address → what is wrong (reported at the record)
        self.manifests: dict[str, tuple[int, list[tuple[str, int]]]] = {}

    def add(self, address: str, text: str) -> None:
        if address in self.good or address in self.bad:
            self.bad[address] = "listed twice"
        elif sha256(text.encode("utf-8")) != address:
            self.bad[address] = "does not hash to its address (it was changed)"
        else:
            self.good.add(address)
            if text.startswith('{"chunks":'):
                raw = json.loads(text)
                if raw.get("format") == CHUNKS_FORMAT:
                    chunks = [(c["sha256"], c["count"]) for c in raw["chunks"]]
                    self.manifests[address] = (raw["count"], chunks)

    def check_list(self, ref: Any) -> str | None:
        if not isinstance(ref, dict) or set(ref) != {"count", "root"}:
            return "not a list reference"
        root = ref["root"]
        if root in self.bad:
            self.bad.pop(root)
            return f"its manifest {root[:12]}… does not hash to its address (changed)"
        if root not in self.manifests:
            return f"its manifest {root[:12]}… is missing from evidence/blobs.jsonl"
        count, chunks = self.manifests[root]
        if count != ref["count"] or sum(n for _, n in chunks) != count:
            return f"its manifest {root[:12]}… does not count {ref['count']} values"
        for address, _ in chunks:
            if address in self.bad:
                self.bad.pop(address)
                return f"its chunk {address[:12]}… does not hash to its address (changed)"
            if address not in self.good:
                return f"its chunk {address[:12]}… is missing from evidence/blobs.jsonl"
        return None


def read_blobs(bundle: zipfile.ZipFile) -> Blobs:
    blobs = Blobs()
    with bundle.open("evidence/blobs.jsonl") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
                blobs.add(str(entry["address"]), str(entry["text"]))
            except (ValueError, KeyError, TypeError):
                raise Failed(
                    f"evidence/blobs.jsonl: line {number}", "not a readable blob"
                ) from None
    return blobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="the audit package (.zip)")
    parser.add_argument("--public-key", required=True, help="the organization's key (PEM)")
    args = parser.parse_args(argv)
    try:
        with open(args.public_key, "rb") as pem:
            print(verify(args.bundle, pem.read()))
    except Failed as failure:
        print(f"FAIL: {failure}")
        return 1
    except (OSError, ValueError) as exc:
        print(f"FAIL: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
