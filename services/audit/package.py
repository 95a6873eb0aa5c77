"""The auditor's package (ADR 021): one signed zip per organization and period.

``AuditPackages.write`` verifies the organization's chain (HMACs, head, anchors: a package
is never made of evidence Vigil itself cannot vouch for), finds the period's records (a
contiguous range of sequences, by ``recordedAt``), then streams into the zip:

- ``evidence/records.jsonl`` (each record as stored: body verbatim, sha256, hmac),
  ``evidence/blobs.jsonl`` (every manifest and chunk of the lists they refer to, once) and
  ``evidence/chain.json`` (signed checkpoints of the record before the period and of its last
  record: records before the period are there only as that hash);
- what an auditor reads: check history, exceptions, the user access list, terminated users
  against access removal, access reviews (entries, decisions, completion), remediation actions
  (Atlassian's answers, read-backs), policy documents — JSON and CSV — and ``report.html``;
- ``verify_bundle.py`` and ``manifest.json`` (every file's SHA-256, signed with the
  organization's Ed25519 key).

Memory stays bounded by what one population's accounts need (a small tuple per account for
the user access list), never by the number of records or the size of the lists.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from services.audit.report import CheckTimeline, ReportData, render_report
from services.audit.writer import CsvFile, JsonArray, PackageZip
from services.check_exceptions.models import ExceptionFilter
from services.check_exceptions.service import ExceptionListRepo
from services.checks.controls import CHECK_CONTROLS, ISO27001, SOC2
from services.clock import Clock, utcnow_ms
from services.errors import Conflict, Forbidden, ValidationFailed
from services.evidence.chain import chunked, iso_utc
from services.evidence.chunks import ChunkStore, ListReader, ListRef, parse_ref, refs_of
from services.evidence.models import EvidenceRecord
from services.evidence.service import EvidenceService
from services.models import Organization, Principal, Role
from services.people.models import Person, PersonFilter, PersonStatus
from services.policies.models import PolicyDocument
from services.remediation.models import RemediationAction
from services.reviews.models import AccessReview, CriticalSystem, ReviewEntry
from services.sync.models import SnapshotAccount

PACKAGE_FORMAT = "vigil-audit-package/1"
CHAIN_FORMAT = "vigil-audit-chain/1"
MAX_PERIOD = timedelta(days=366 * 3)
OFFBOARDED_CHECK = "confluence-offboarded-access-removed"
REVIEW_CHECK = "confluence-access-review-completed"
PAGE = 500


class EvidenceReads(Protocol):
    """The ``EvidenceRepository`` methods a package reads."""

    async def last(self, *, organization_id: str) -> EvidenceRecord | None: ...
    async def at(self, *, organization_id: str, sequence: int) -> EvidenceRecord | None: ...
    def iter_range(
        self, *, organization_id: str, first: int, last: int
    ) -> AsyncIterator[EvidenceRecord]: ...
    async def list_for_check(
        self, *, organization_id: str, check_id: str, limit: int, before: int | None
    ) -> list[EvidenceRecord]: ...


class OrganizationReads(Protocol):
    async def get(self, *, organization_id: str) -> Organization | None: ...


class ReviewReads(Protocol):
    async def list_reviews(
        self, *, organization_id: str, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[AccessReview], int]: ...
    async def list_entries(
        self, *, review_id: str, decision: Any, limit: int, after: str | None
    ) -> tuple[list[ReviewEntry], int]: ...


class SystemReads(Protocol):
    async def list_by_organization(self, *, organization_id: str) -> list[CriticalSystem]: ...


class RemediationReads(Protocol):
    def iter_actions(self, *, organization_id: str) -> AsyncIterator[RemediationAction]: ...


class PolicyReads(Protocol):
    async def list(self, *, organization_id: str) -> list[PolicyDocument]: ...


class PeopleReads(Protocol):
    async def list_people(
        self, *, organization_id: str, filter: PersonFilter, limit: int, after: Any
    ) -> tuple[list[Person], int]: ...


class SnapshotReads(Protocol):
    def iter_accounts(self, *, snapshot_id: str) -> AsyncIterator[SnapshotAccount]: ...


@dataclass(frozen=True, slots=True)
class AuditSources:
    """Everything a package reads (the store's repositories, wired by the container)."""

    evidence: EvidenceReads
    chunks: ChunkStore
    organizations: OrganizationReads
    exceptions: ExceptionListRepo
    reviews: ReviewReads
    systems: SystemReads
    remediations: RemediationReads
    policies: PolicyReads
    people: PeopleReads
    snapshots: SnapshotReads


@dataclass(frozen=True, slots=True)
class Period:
    """From the start of ``first`` to the end of ``last`` (UTC days)."""

    first: date
    last: date

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)


def parse_period(first: str, last: str) -> Period:
    """``YYYY-MM-DD`` to ``YYYY-MM-DD`` (inclusive); ``ValidationFailed`` naming the field."""
    days = []
    for name, text in (("from", first), ("to", last)):
        try:
            days.append(date.fromisoformat(text.strip()))
        except (ValueError, AttributeError):
            raise ValidationFailed(f"{name} must be a date, YYYY-MM-DD", field=[name]) from None
    period = Period(days[0], days[1])
    if period.last < period.first:
        raise ValidationFailed("to is before from", field=["to"])
    if period.ends_at - period.starts_at > MAX_PERIOD:
        raise ValidationFailed("a package covers at most three years", field=["to"])
    return period


def actor(value: Any) -> dict[str, Any] | None:
    """Who acted, as ``{kind, id, name}``: an API key id today (a string); an object with
    ``kind``/``id`` (a person or a key) is taken as it is."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"kind": "API_KEY", "id": value, "name": None}
    kind = getattr(value, "kind", None)
    return {
        "kind": getattr(kind, "value", kind),
        "id": getattr(value, "id", None),
        "name": getattr(value, "name", None),
    }


def _actor_cells(value: Any) -> list[Any]:
    who = actor(value) or {}
    return [who.get("kind"), who.get("id"), who.get("name")]


def verifier_source() -> str:
    """``verify_bundle.py``: installed beside the packages, or at the source tree's root."""
    spec = importlib.util.find_spec("verify_bundle")
    if spec is not None and spec.origin:
        return Path(spec.origin).read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "verify_bundle.py").read_text(encoding="utf-8")


@dataclass
class _Walk:
    """What the records of the period leave for the tables and the report."""

    history: list[dict[str, Any]] = field(default_factory=list)
    access: EvidenceRecord | None = None  # the newest access-check record (its population)
    offboarded: list[EvidenceRecord] = field(default_factory=list)
    policy: EvidenceRecord | None = None


@dataclass(eq=False, repr=False)
class AuditPackages:
    """Writes an organization's audit package for a period."""

    evidence: EvidenceService
    sources: AuditSources
    _: KW_ONLY
    version: str
    clock: Clock = utcnow_ms

    def authorize(self, principal: Principal) -> None:
        """ADMIN or REVIEWER: a package holds every person's access and decisions."""
        if principal.role not in (Role.ADMIN, Role.REVIEWER):
            raise Forbidden("an audit package needs an ADMIN or REVIEWER key")

    async def write(self, principal: Principal, period: Period, out: IO[bytes]) -> dict[str, Any]:
        """Write the package to ``out`` (a binary file); the signed manifest."""
        self.authorize(principal)
        org_id = principal.organization_id
        org = await self.sources.organizations.get(organization_id=org_id)
        status = await self.evidence.verify(principal)
        if status.broken is not None:
            broken = status.broken
            raise Conflict(
                f"the evidence chain is broken at #{broken.sequence} ({broken.problem.value}: "
                f"{broken.message}): a package of it would not be trustworthy"
            )
        signer = self.evidence.signer
        if signer is None:
            raise Conflict("evidence signing is not configured")
        key = await signer.key(org_id)
        first, last = await self._bounds(org_id, period)
        zipped = PackageZip(out)
        try:
            walk, chain = await self._write_evidence(zipped, org_id, first, last)
            context = await self._write_tables(zipped, org_id, period, walk)
            zipped.put("report.html", render_report(context_report(org, period, walk, context)))
            zipped.put("verify_bundle.py", verifier_source())
            manifest: dict[str, Any] = {
                "format": PACKAGE_FORMAT,
                "organization": {"id": org_id, "name": org.name if org else None},
                "period": {"from": period.first.isoformat(), "to": period.last.isoformat()},
                "createdAt": iso_utc(self.clock()),
                "vigilVersion": self.version,
                "evidence": chain,
                "hmacKeyId": self.evidence.hmac_key_id,
                "signingKeys": {k.key_id: k.pem for k in await signer.public_keys(org_id)},
                "files": zipped.files,
            }
            manifest = key.signed(manifest)
            zipped.put_manifest(manifest)
        finally:
            zipped.close()
        return manifest

    async def _bounds(self, org: str, period: Period) -> tuple[int, int]:
        """The first and last sequence recorded in the period (first > last: none)."""
        tail = await self.sources.evidence.last(organization_id=org)
        if tail is None:
            return 1, 0
        first = await self._first_at_or_after(org, period.starts_at, tail.sequence)
        after = await self._first_at_or_after(org, period.ends_at, tail.sequence)
        return first, after - 1

    async def _first_at_or_after(self, org: str, when: datetime, tail: int) -> int:
        """Binary search on ``recordedAt`` (appends are in time order): the first sequence
        recorded at or after ``when`` (``tail + 1`` if none)."""
        low, high = 1, tail + 1
        while low < high:
            middle = (low + high) // 2
            record = await self.sources.evidence.at(organization_id=org, sequence=middle)
            at = _recorded_at(record) if record else None
            if at is not None and at < when:
                low = middle + 1
            else:
                high = middle
        return low

    async def _write_evidence(
        self, zipped: PackageZip, org: str, first: int, last: int
    ) -> tuple[_Walk, dict[str, Any]]:
        walk = _Walk()
        reader = ListReader(self.sources.chunks, org)
        shipped: set[str] = set()
        before = first - 1
        start = end = None
        if before >= 1:
            record = await self.sources.evidence.at(organization_id=org, sequence=before)
            assert record is not None  # the chain verified
            start = await self.evidence.checkpoint_at(org, record.sequence, record.sha256)
            end = start
        count = 0
        with (
            zipped.text("evidence/records.jsonl") as records,
            zipped.text("evidence/blobs.jsonl") as blobs,
        ):
            async for record in self.sources.evidence.iter_range(
                organization_id=org, first=first, last=last
            ):
                records.write(_record_line(record))
                body = record.content()
                for _, ref in refs_of(body) if chunked(body.get("version")) else []:
                    if ref is None or ref.root in shipped:
                        continue
                    async for blob in reader.blobs(ref):
                        if blob.sha256 not in shipped:
                            shipped.add(blob.sha256)
                            blobs.write(_blob_line(blob.sha256, blob.text))
                walk.history.append(_history_row(record, body))
                _remember(walk, record, body)
                end = await self.evidence.checkpoint_at(org, record.sequence, record.sha256)
                count += 1
        chain = {
            "format": CHAIN_FORMAT,
            "organizationId": org,
            "records": count,
            "firstSequence": first if count else None,
            "lastSequence": last if count else None,
            "start": start,
            "end": end,
        }
        zipped.put_json("evidence/chain.json", chain)
        summary = {k: chain[k] for k in ("records", "firstSequence", "lastSequence")}
        return walk, summary

    async def _write_tables(
        self, zipped: PackageZip, org: str, period: Period, walk: _Walk
    ) -> dict[str, Any]:
        context: dict[str, Any] = {}
        context["before"] = await self._status_before(org, walk)
        self._write_history(zipped, walk)
        context["exceptions"] = await self._write_exceptions(zipped, org, period)
        people = await self._people(org)
        access = await self._write_access_list(zipped, org, walk, people)
        context["actions"] = await self._write_remediation(zipped, org, period)
        context["terminated"] = await self._write_terminated(
            zipped, walk, people, access, context["actions"]
        )
        context["reviews"] = await self._write_reviews(zipped, org, period)
        context["policies"] = await self._write_policies(zipped, org, walk)
        zipped.put_json(
            "checks/controls.json",
            {
                check: {
                    "soc2": {c: SOC2[c] for c in soc2},
                    "iso27001": {c: ISO27001[c] for c in iso},
                }
                for check, (soc2, iso) in sorted(CHECK_CONTROLS.items())
            },
        )
        return context

    async def _status_before(self, org: str, walk: _Walk) -> dict[str, str]:
        """Each check's status when the period began (its last record before it)."""
        first = walk.history[0]["sequence"] if walk.history else None
        found: dict[str, str] = {}
        for check in CHECK_CONTROLS:
            rows = await self.sources.evidence.list_for_check(
                organization_id=org, check_id=check, limit=1, before=first
            )
            if rows and first is not None:
                status = rows[0].content().get("result", {}).get("status")
                if isinstance(status, str):
                    found[check] = status
        return found

    def _write_history(self, zipped: PackageZip, walk: _Walk) -> None:
        header = [
            "sequence",
            "evidenceId",
            "checkId",
            "kind",
            "evaluatedAt",
            "recordedAt",
            "status",
            "failingCount",
            "exceptedCount",
            "snapshotId",
            "reason",
            "sha256",
        ]
        zipped.put_csv(
            "checks/history.csv", header, ([row[h] for h in header] for row in walk.history)
        )
        with zipped.text("checks/history.json") as out:
            array = JsonArray(out)
            for row in walk.history:
                array.item(row)
            array.close()

    async def _write_exceptions(
        self, zipped: PackageZip, org: str, period: Period
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        before: str | None = None
        while True:
            page = await self.sources.exceptions.list(
                ExceptionFilter(org), limit=PAGE, before=before
            )
            for e in page:
                ended = e.revoked_at or e.expires_at
                if e.created_at < period.ends_at and ended >= period.starts_at:
                    rows.append(
                        {
                            "id": e.id,
                            "checkId": e.check_id,
                            "resourceId": e.resource_id,
                            "reason": e.reason,
                            "createdAt": iso_utc(e.created_at),
                            "createdBy": actor(e.created_by),
                            "expiresAt": iso_utc(e.expires_at),
                            "revokedAt": iso_utc(e.revoked_at) if e.revoked_at else None,
                            "revokedBy": actor(e.revoked_by),
                        }
                    )
            if len(page) < PAGE:
                break
            before = page[-1].id
        rows.sort(key=lambda r: (r["checkId"], r["createdAt"], r["id"]))
        zipped.put_json("checks/exceptions.json", rows)
        zipped.put_csv(
            "checks/exceptions.csv",
            [
                "id",
                "checkId",
                "resourceId",
                "reason",
                "createdAt",
                "createdByKind",
                "createdById",
                "expiresAt",
                "revokedAt",
                "revokedById",
            ],
            map(_exception_cells, rows),
        )
        return rows

    async def _people(self, org: str) -> dict[str, tuple[str, str | None, str, str | None]]:
        """person id → (email, name, status, offboardedAt)."""
        people: dict[str, tuple[str, str | None, str, str | None]] = {}
        after: Any = None
        while True:
            page, _ = await self.sources.people.list_people(
                organization_id=org, filter=PersonFilter(), limit=PAGE, after=after
            )
            for p in page:
                off = iso_utc(p.offboarded_at) if p.offboarded_at else None
                people[p.id] = (p.email, p.name, p.status.value, off)
            if len(page) < PAGE:
                return people
            after = _person_key(page[-1])

    async def _write_access_list(
        self,
        zipped: PackageZip,
        org: str,
        walk: _Walk,
        people: Mapping[str, tuple[str, str | None, str, str | None]],
    ) -> dict[str, tuple[bool, list[str]]]:
        """The user access list at the end of the period: the newest access population
        sealed in the period, with the snapshot's names, emails, directory and claim status.
        Returns account id → (has access, person ids) for the terminated-users table."""
        header = [
            "accountId",
            "displayName",
            "email",
            "hasAccess",
            "accessVia",
            "isAdmin",
            "adminVia",
            "accountStatus",
            "directoryStatus",
            "claimStatus",
            "mfaEnabled",
            "classification",
            "identityMethod",
            "personId",
            "personEmail",
            "personName",
            "personStatus",
            "offboardedAt",
        ]
        held: dict[str, tuple[bool, list[str]]] = {}
        record = walk.access
        details: dict[str, tuple[Any, ...]] = {}
        items: AsyncIterator[Any] = _nothing()
        meta: dict[str, Any] = {"evidenceId": None, "sequence": None, "snapshotId": None}
        if record is not None:
            body = record.content()
            snapshot = (body.get("snapshot") or {}).get("id")
            meta = {"evidenceId": record.id, "sequence": record.sequence, "snapshotId": snapshot}
            if snapshot:
                async for a in self.sources.snapshots.iter_accounts(snapshot_id=snapshot):
                    details[a.account_id] = (
                        a.display_name,
                        a.email,
                        a.directory_status.value if a.directory_status else None,
                        a.claim_status.value if a.claim_status else None,
                    )
            ref = parse_ref((body.get("population") or {}).get("items"))
            items = _list_items(ListReader(self.sources.chunks, org), ref, body)
        with (
            zipped.text("populations/user-access-list.csv") as csv_out,
            zipped.text("populations/user-access-list.json") as json_out,
        ):
            table = CsvFile(csv_out, header)
            json_out.write(json.dumps({"population": meta}, sort_keys=True)[:-1] + ',"accounts":')
            array = JsonArray(json_out)
            async for item in items:
                account = str(item.get("accountId"))
                name, email, directory, claim = details.get(account, (None, None, None, None))
                person = item.get("personId")
                p_email, p_name, p_status, p_off = people.get(person or "", (None,) * 4)
                row = {
                    "accountId": account,
                    "displayName": name,
                    "email": email,
                    "hasAccess": item.get("hasAccess"),
                    "accessVia": item.get("accessVia") or [],
                    "isAdmin": item.get("isAdmin"),
                    "adminVia": item.get("adminVia") or [],
                    "accountStatus": item.get("accountStatus"),
                    "directoryStatus": directory,
                    "claimStatus": claim,
                    "mfaEnabled": item.get("mfaEnabled"),
                    "classification": item.get("classification"),
                    "identityMethod": item.get("method"),
                    "personId": person,
                    "personEmail": p_email,
                    "personName": p_name,
                    "personStatus": p_status,
                    "offboardedAt": p_off,
                }
                table.row([row[h] for h in header])
                array.item(row)
                if person and p_status == PersonStatus.OFFBOARDED.value:
                    held[account] = (bool(item.get("hasAccess", True)), [person])
            array.close()
            json_out.write("}\n")
        return held

    async def _write_remediation(
        self, zipped: PackageZip, org: str, period: Period
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        async for a in self.sources.remediations.iter_actions(organization_id=org):
            when = a.approved_at or a.updated_at
            if when is None or not (period.starts_at <= when < period.ends_at):
                continue
            rows.append(
                {
                    "id": a.id,
                    "kind": a.kind.value,
                    "accountId": a.account_id,
                    "displayName": a.display_name,
                    "group": a.group_name or None,
                    "reason": a.reason,
                    "source": {
                        "type": a.source.type.value,
                        "checkId": a.source.check_id,
                        "reviewId": a.source.review_id,
                        "entryId": a.source.entry_id,
                        "decision": a.source.decision,
                    },
                    "state": a.state.value if a.state else None,
                    "request": a.request,
                    "approvedBy": actor(a.approved_by),
                    "approvedAt": iso_utc(a.approved_at) if a.approved_at else None,
                    "updatedAt": iso_utc(a.updated_at) if a.updated_at else None,
                    "calls": [
                        {
                            "method": c.method,
                            "endpoint": c.endpoint,
                            "status": c.status,
                            "message": c.message,
                            "at": iso_utc(c.at),
                        }
                        for c in a.calls
                    ],
                    "readBack": (
                        {
                            "endpoint": a.verification.endpoint,
                            "confirmed": a.verification.confirmed,
                            "detail": a.verification.detail,
                            "at": iso_utc(a.verification.at),
                        }
                        if a.verification
                        else None
                    ),
                    "error": a.error,
                    "evidenceId": a.evidence_id,
                }
            )
        zipped.put_json("remediation/actions.json", rows)
        zipped.put_csv(
            "remediation/actions.csv",
            [
                "id",
                "kind",
                "accountId",
                "displayName",
                "group",
                "reason",
                "sourceType",
                "state",
                "approvedByKind",
                "approvedById",
                "approvedAt",
                "atlassianAnswers",
                "readBackConfirmed",
                "readBackDetail",
                "readBackAt",
                "error",
                "evidenceId",
            ],
            map(_action_cells, rows),
        )
        return rows

    async def _write_terminated(
        self,
        zipped: PackageZip,
        walk: _Walk,
        people: Mapping[str, tuple[str, str | None, str, str | None]],
        access: Mapping[str, tuple[bool, list[str]]],
        actions: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """Terminated people against the removal of their access: when the offboarded-access
        check first flagged each account in the period and the first evaluation after which
        it no longer did."""
        flagged: dict[str, tuple[str | None, str | None]] = {}  # account → (flagged, removed)
        for record in walk.offboarded:
            body = record.content()
            at = str(body.get("evaluatedAt"))
            failing = await _failing_accounts(
                ListReader(self.sources.chunks, body["organizationId"]), body
            )
            for account in failing:
                since, _ = flagged.get(account, (at, None))
                flagged[account] = (since, None)
            for account, (since, removed) in list(flagged.items()):
                if account not in failing and removed is None:
                    flagged[account] = (since, at)
        by_account: dict[str, list[Mapping[str, Any]]] = {}
        for a in actions:
            by_account.setdefault(str(a["accountId"]), []).append(a)
        rows: list[dict[str, Any]] = []
        accounts = set(access) | set(flagged)
        for account in sorted(accounts):
            has_access, persons = access.get(account, (None, []))
            person = persons[0] if persons else None
            email, name, _, off = people.get(person or "", (None, None, None, None))
            since, removed = flagged.get(account, (None, None))
            done = by_account.get(account, [])
            rows.append(
                {
                    "personId": person,
                    "personEmail": email,
                    "personName": name,
                    "offboardedAt": off,
                    "accountId": account,
                    "flaggedSince": since,
                    "accessRemovedAt": removed,
                    "hasAccessAtPeriodEnd": has_access,
                    "daysToRemoval": _days(off, removed),
                    "remediation": [f"{a['id']} {a['state']}" for a in done],
                }
            )
        zipped.put_json("populations/terminated-users.json", rows)
        header = (
            list(rows[0])
            if rows
            else [
                "personId",
                "personEmail",
                "personName",
                "offboardedAt",
                "accountId",
                "flaggedSince",
                "accessRemovedAt",
                "hasAccessAtPeriodEnd",
                "daysToRemoval",
                "remediation",
            ]
        )
        zipped.put_csv(
            "populations/terminated-users.csv", header, ([r[h] for h in header] for r in rows)
        )
        return rows

    async def _write_reviews(
        self, zipped: PackageZip, org: str, period: Period
    ) -> list[dict[str, Any]]:
        systems = {
            s.id: s.system.value
            for s in await self.sources.systems.list_by_organization(organization_id=org)
        }
        reviews: list[AccessReview] = []
        before: tuple[datetime, str] | None = None
        while True:
            page, _ = await self.sources.reviews.list_reviews(
                organization_id=org, limit=PAGE, before=before
            )
            reviews += [
                r
                for r in page
                if r.started_at < period.ends_at
                and (r.completed_at is None or r.completed_at >= period.starts_at)
            ]
            if len(page) < PAGE:
                break
            before = (page[-1].started_at, page[-1].id)
        reviews.reverse()
        summary: list[dict[str, Any]] = []
        decisions_header = [
            "reviewId",
            "system",
            "accountId",
            "displayName",
            "email",
            "groups",
            "isAdmin",
            "classification",
            "personId",
            "decision",
            "decidedByKind",
            "decidedById",
            "decidedByName",
            "decidedAt",
            "note",
        ]
        with (
            zipped.text("reviews/review-decisions.csv") as csv_out,
            zipped.text("reviews/review-decisions.json") as json_out,
        ):
            table = CsvFile(csv_out, decisions_header)
            array = JsonArray(json_out)
            for review in reviews:
                counts: dict[str, int] = {}
                after: str | None = None
                while True:
                    entries, _ = await self.sources.reviews.list_entries(
                        review_id=review.id, decision=None, limit=PAGE, after=after
                    )
                    for e in entries:
                        counts[e.decision.value] = counts.get(e.decision.value, 0) + 1
                        row = {
                            "reviewId": review.id,
                            "system": systems.get(review.critical_system_id),
                            "accountId": e.account_id,
                            "displayName": e.display_name,
                            "email": e.email,
                            "groups": list(e.groups),
                            "isAdmin": e.is_admin,
                            "classification": e.classification.value,
                            "personId": e.person_id,
                            "decision": e.decision.value,
                            "decidedBy": actor(e.decided_by),
                            "decidedAt": iso_utc(e.decided_at) if e.decided_at else None,
                            "note": e.note,
                        }
                        array.item(row)
                        table.row(
                            [row[h] for h in decisions_header[:10]]
                            + _actor_cells(e.decided_by)
                            + [row["decidedAt"], row["note"]]
                        )
                    if len(entries) < PAGE:
                        break
                    after = entries[-1].account_id
                on_time = (
                    review.completed_at <= review.due_at
                    if review.completed_at and review.due_at
                    else None
                )
                summary.append(
                    {
                        "id": review.id,
                        "system": systems.get(review.critical_system_id),
                        "status": review.status.value,
                        "startedAt": iso_utc(review.started_at),
                        "startedBy": actor(review.started_by),
                        "dueAt": iso_utc(review.due_at) if review.due_at else None,
                        "completedAt": iso_utc(review.completed_at)
                        if review.completed_at
                        else None,
                        "completedBy": actor(review.completed_by),
                        "completedOnTime": on_time,
                        "entries": review.entry_count,
                        "decisions": counts,
                        "snapshotId": review.snapshot_id,
                    }
                )
            array.close()
        zipped.put_json("reviews/access-reviews.json", summary)
        zipped.put_csv(
            "reviews/review-completion.csv",
            [
                "reviewId",
                "system",
                "status",
                "startedAt",
                "dueAt",
                "completedAt",
                "completedByKind",
                "completedById",
                "completedOnTime",
                "entries",
                "kept",
                "revoked",
                "pending",
                "otherDecisions",
            ],
            map(_review_cells, summary),
        )
        return summary

    async def _write_policies(
        self, zipped: PackageZip, org: str, walk: _Walk
    ) -> list[dict[str, Any]]:
        pages: dict[str, Mapping[str, Any]] = {}
        if walk.policy is not None:
            body = walk.policy.content()
            ref = parse_ref((body.get("population") or {}).get("items"))
            async for page in _list_items(ListReader(self.sources.chunks, org), ref, body):
                if isinstance(page, Mapping):
                    pages[str(page.get("pageId"))] = page
        rows: list[dict[str, Any]] = []
        for doc in sorted(
            await self.sources.policies.list(organization_id=org), key=lambda d: d.policy_type.value
        ):
            page = pages.get(doc.page_id, {})
            rows.append(
                {
                    "policyType": doc.policy_type.value,
                    "pageId": doc.page_id,
                    "title": doc.title,
                    "status": doc.status.value,
                    "mappedBy": actor(doc.mapped_by),
                    "mappedAt": iso_utc(doc.mapped_at),
                    "approvedBy": actor(doc.approved_by),
                    "approvedAt": iso_utc(doc.approved_at) if doc.approved_at else None,
                    "pageVersion": page.get("version"),
                    "pageLastModifiedAt": page.get("lastModifiedAt"),
                    "missingSections": page.get("missingSections"),
                    "evidenceId": walk.policy.id if walk.policy and page else None,
                }
            )
        zipped.put_json("policies/policy-documents.json", rows)
        zipped.put_csv(
            "policies/policy-documents.csv",
            [
                "policyType",
                "pageId",
                "title",
                "status",
                "pageVersion",
                "pageLastModifiedAt",
                "approvedByKind",
                "approvedById",
                "approvedAt",
                "missingSections",
                "evidenceId",
            ],
            map(_policy_cells, rows),
        )
        return rows


def context_report(
    org: Organization | None, period: Period, walk: _Walk, context: Mapping[str, Any]
) -> ReportData:
    """What ``report.html`` shows."""
    timelines: dict[str, CheckTimeline] = {}
    for row in walk.history:
        if row["kind"] != "check":
            continue
        line = timelines.setdefault(
            row["checkId"], CheckTimeline(row["checkId"], context["before"].get(row["checkId"]))
        )
        line.changes.append((row["evaluatedAt"], row["status"], row["reason"]))
    for check, status in context["before"].items():
        timelines.setdefault(check, CheckTimeline(check, status))
    return ReportData(
        organization=org.name if org else "",
        organization_id=org.id if org else "",
        period_from=period.first.isoformat(),
        period_to=period.last.isoformat(),
        starts_at=iso_utc(period.starts_at),
        ends_at=iso_utc(period.ends_at),
        timelines=timelines,
        exceptions=context["exceptions"],
        reviews=context["reviews"],
        actions=context["actions"],
        terminated=context["terminated"],
        policies=context["policies"],
        records=len(walk.history),
    )


def _actor_cells_json(who: Mapping[str, Any] | None) -> list[Any]:
    who = who or {}
    return [who.get("kind"), who.get("id"), who.get("name")]


def _exception_cells(r: Mapping[str, Any]) -> list[Any]:
    """A row of ``checks/exceptions.csv``."""
    created, revoked = r["createdBy"] or {}, r["revokedBy"] or {}
    return [
        r["id"],
        r["checkId"],
        r["resourceId"],
        r["reason"],
        r["createdAt"],
        created.get("kind"),
        created.get("id"),
        r["expiresAt"],
        r["revokedAt"],
        revoked.get("id"),
    ]


def _review_cells(r: Mapping[str, Any]) -> list[Any]:
    """A row of ``reviews/review-completion.csv``."""
    d = dict(r["decisions"])
    kept, revoked, pending = d.pop("KEEP", 0), d.pop("REVOKE", 0), d.pop("PENDING", 0)
    return [
        r["id"],
        r["system"],
        r["status"],
        r["startedAt"],
        r["dueAt"],
        r["completedAt"],
        *_actor_cells_json(r["completedBy"])[:2],
        r["completedOnTime"],
        r["entries"],
        kept,
        revoked,
        pending,
        d,
    ]


def _policy_cells(r: Mapping[str, Any]) -> list[Any]:
    """A row of ``policies/policy-documents.csv``."""
    approved = r["approvedBy"] if isinstance(r["approvedBy"], dict) else None
    return [
        r["policyType"],
        r["pageId"],
        r["title"],
        r["status"],
        r["pageVersion"],
        r["pageLastModifiedAt"],
        *_actor_cells_json(approved)[:2],
        r["approvedAt"],
        r["missingSections"],
        r["evidenceId"],
    ]


def _action_cells(r: Mapping[str, Any]) -> list[Any]:
    """A row of ``remediation/actions.csv``."""
    back = r["readBack"] or {}
    return [
        r["id"],
        r["kind"],
        r["accountId"],
        r["displayName"],
        r["group"],
        r["reason"],
        r["source"]["type"],
        r["state"],
        *_actor_cells_json(r["approvedBy"])[:2],
        r["approvedAt"],
        [f"{c['method']} {c['endpoint']} → {c['status']}" for c in r["calls"]],
        back.get("confirmed"),
        back.get("detail"),
        back.get("at"),
        r["error"],
        r["evidenceId"],
    ]


def _person_key(person: Person) -> Any:
    from services.people.models import PersonKey  # the people service's paging key

    return PersonKey(value=person.email_key, email_key=person.email_key)


def _record_line(record: EvidenceRecord) -> str:
    stored = {
        "sequence": record.sequence,
        "id": record.id,
        "checkId": record.check_id,
        "sha256": record.sha256,
        "hmac": record.hmac,
        "keyId": record.key_id,
        "body": record.body,
    }
    return json.dumps(stored, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def _blob_line(address: str, text: str) -> str:
    return json.dumps({"address": address, "text": text}, ensure_ascii=False) + "\n"


def _recorded_at(record: EvidenceRecord) -> datetime | None:
    text = record.content().get("recordedAt")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _history_row(record: EvidenceRecord, body: Mapping[str, Any]) -> dict[str, Any]:
    result = body.get("result") or {}
    kind = "remediation" if result.get("kind") == "remediation" else "check"
    return {
        "sequence": record.sequence,
        "evidenceId": record.id,
        "checkId": record.check_id,
        "kind": kind,
        "evaluatedAt": body.get("evaluatedAt"),
        "recordedAt": body.get("recordedAt"),
        "status": result.get("status"),
        "failingCount": _count(result.get("failingItems")),
        "exceptedCount": _count(result.get("exceptedItems")),
        "snapshotId": (body.get("snapshot") or {}).get("id"),
        "reason": result.get("reason"),
        "sha256": record.sha256,
    }


def _count(value: Any) -> int | None:
    if isinstance(value, list):
        return len(value)
    ref = parse_ref(value)
    return ref.count if ref else None


def _remember(walk: _Walk, record: EvidenceRecord, body: Mapping[str, Any]) -> None:
    if (body.get("result") or {}).get("kind") == "remediation":
        return
    kind = (body.get("population") or {}).get("kind")
    if kind == "accounts":
        walk.access = record
    elif kind == "pages":
        walk.policy = record
    if record.check_id == OFFBOARDED_CHECK:
        walk.offboarded.append(record)


async def _nothing() -> AsyncIterator[Any]:
    return
    yield


async def _list_items(
    reader: ListReader, ref: ListRef | None, body: Mapping[str, Any]
) -> AsyncIterator[Any]:
    """A record's population items, chunk by chunk (format 1: inline)."""
    if ref is None:
        for item in (body.get("population") or {}).get("items") or []:
            yield item
        return
    blobs = reader.blobs(ref)
    await anext(blobs)  # the manifest
    async for blob in blobs:
        for item in json.loads(blob.text):
            yield item


async def _failing_accounts(reader: ListReader, body: Mapping[str, Any]) -> set[str]:
    result = body.get("result") or {}
    value = result.get("failingItems")
    ref = parse_ref(value)
    items = await reader.read(ref) if ref is not None else (value or [])
    return {str(i.get("resourceId")) for i in items if isinstance(i, Mapping)}


def _days(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    done = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return round((done - begin).total_seconds() / 86400, 2)
