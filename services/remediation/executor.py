"""Carrying out approved actions: leased claims, bounded concurrency, call, read back, record.

A worker loop claims one open action at a time (``RemediationRepository.claim``, a fenced
lease); ``concurrency`` loops run side by side. Per action:

1. PENDING → the call (``DELETE …/group/userByGroupId``) through the Confluence client,
   with its retry policy and rate-limit handling. 204 — also when the account was no longer
   a member — is success: the action becomes DONE. Any refusal (403, 401 "scope does not
   match", 404, retries exhausted …) makes it FAILED with Atlassian's answer.
2. DONE → the read-back: the group's members, page by page. VERIFIED only when Atlassian
   no longer lists the account (a 404 for the group also shows it is gone); else FAILED.
3. The finished action (VERIFIED or FAILED) is appended to the evidence chain and published.

A worker that dies leaves its lease to expire; the next claim (token + 1) resumes the action
where its state says — a DONE action is only verified, never called again — and the dead
worker's late writes are refused by the token. One action's failure never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.atlassian.directory_admin import (
    DIRECTORIES,
    DIRECTORY_USER,
    SUSPEND,
    DirectoryAdminClient,
)
from services.clock import Clock, utcnow
from services.confluence.client import ConfluenceClient
from services.confluence.errors import ConfluenceError, ConfluenceNotFound
from services.confluence.paths import GROUP_MEMBER_REMOVE, GROUP_MEMBERS
from services.confluence.retry import RetryPolicy
from services.evidence.chunks import chunk_values
from services.evidence.models import EvidenceEntry, EvidenceRecord
from services.integrations.models import Integration
from services.remediation.models import (
    OFFBOARDED_CHECK,
    VALID_CHECK,
    ActionKind,
    ActionState,
    CallRecord,
    Claim,
    RemediationAction,
    SourceType,
    Verification,
)

log = logging.getLogger(__name__)

Publish = Callable[[RemediationAction], Awaitable[None]]
RecordEvidence = Callable[[EvidenceEntry], Awaitable[EvidenceRecord]]
OnVerified = Callable[[Integration], Awaitable[None]]
DirectoryAdmin = Callable[[Integration], Awaitable[DirectoryAdminClient | None]]

DEFAULT_LEASE = timedelta(seconds=120)
DEFAULT_CONCURRENCY = 4
# Writes wait out rate limits, but an administrator is waiting: no hour-long pauses.
WRITE_POLICY = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=10.0, max_pause=60.0)


class ClientSource(Protocol):
    """Builds an authenticated Confluence client for a stored integration."""

    async def confluence_for(
        self, integration: Integration, policy: RetryPolicy, http: Any = None
    ) -> ConfluenceClient:
        """The client."""
        ...


def default_owner() -> str:
    """host:pid:random, like sync lease owners."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class RemediationsRepo(Protocol):
    """The ``RemediationRepository`` methods ``RemediationExecutor`` calls."""

    async def claim(
        self, *, organization_id: str, owner: str, ttl: timedelta, now: datetime
    ) -> Claim | None: ...
    async def record(
        self,
        claim: Claim,
        *,
        state: ActionState,
        now: datetime,
        calls: Sequence[CallRecord] = (),
        verification: Verification | None = None,
        error: str | None = None,
    ) -> RemediationAction | None: ...
    async def set_evidence(self, claim: Claim, *, evidence_id: str) -> None: ...


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``RemediationExecutor`` calls."""

    async def get(self, *, organization_id: str, integration_id: str) -> Integration | None: ...
    async def get_by_id(self, *, integration_id: str) -> Integration | None: ...


class RemediationExecutor:
    """Runs an organization's open actions to VERIFIED or FAILED."""

    def __init__(
        self,
        clients: ClientSource,
        *,
        integrations: IntegrationsRepo,
        remediations: RemediationsRepo,
        record_evidence: RecordEvidence,
        publish: Publish,
        on_verified: OnVerified,
        directory_admin: DirectoryAdmin | None = None,
        policy: RetryPolicy = WRITE_POLICY,
        concurrency: int = DEFAULT_CONCURRENCY,
        lease: timedelta = DEFAULT_LEASE,
        owner: str | None = None,
        clock: Clock = utcnow,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._integrations = integrations
        self._remediations = remediations
        self._clients = clients
        self._record_evidence = record_evidence
        self._publish = publish
        self._on_verified = on_verified
        self._directory_admin = directory_admin
        self.policy = policy
        self._concurrency = concurrency
        self._lease = lease
        self.owner = owner or default_owner()
        self._clock = clock

    async def run(self, organization_id: str) -> list[RemediationAction]:
        """Claim and finish open actions until none is claimable; the finished ones."""
        finished: list[RemediationAction] = []
        clients: dict[str, ConfluenceClient] = {}
        workers = [
            self._worker(organization_id, clients, finished) for _ in range(self._concurrency)
        ]
        await asyncio.gather(*workers)
        verified = {a.integration_id for a in finished if a.state is ActionState.VERIFIED}
        for integration_id in sorted(verified):
            integration = await self._integrations.get_by_id(integration_id=integration_id)
            if integration is not None:
                try:
                    await self._on_verified(integration)
                except Exception:
                    log.exception("could not request a sync after remediation")
        return finished

    async def _worker(
        self,
        organization_id: str,
        clients: dict[str, ConfluenceClient],
        finished: list[RemediationAction],
    ) -> None:
        repo = self._remediations
        while True:
            claim = await repo.claim(
                organization_id=organization_id,
                owner=self.owner,
                ttl=self._lease,
                now=self._clock(),
            )
            if claim is None:
                return
            try:
                done = await self.process(claim, clients)
            except Exception:  # one action's failure never stops the others
                log.exception("remediation action %s failed unexpectedly", claim.action.id)
                done = await repo.record(
                    claim,
                    state=ActionState.FAILED,
                    now=self._clock(),
                    error="internal error while carrying out the action",
                )
                try:
                    done = await self._after(claim, done)
                except Exception:  # the lease expires and a later claim writes the evidence
                    log.exception("no evidence yet for remediation action %s", claim.action.id)
            if done is not None:
                finished.append(done)

    async def process(
        self, claim: Claim, clients: dict[str, ConfluenceClient] | None = None
    ) -> RemediationAction | None:
        """Carry one claimed action to its end; None when the lease was lost meanwhile."""
        clients = {} if clients is None else clients
        action = claim.action
        repo = self._remediations
        if action.state in (ActionState.VERIFIED, ActionState.FAILED):
            return await self._after(claim, action)  # finished, but its evidence is not written
        if action.kind is ActionKind.SUSPEND_ACCESS:
            return await self._suspension(claim)
        try:
            client = await self._client(action, clients)
        except Exception as exc:  # the reason goes to the action, not a crash
            message = getattr(exc, "message", None) or type(exc).__name__
            return await self._finish(
                claim, ActionState.FAILED, error=f"no Confluence client: {message}"
            )
        current: RemediationAction | None = action
        if action.state is ActionState.PENDING:
            current = await self._call(claim, client)
            if current is None or current.state is ActionState.FAILED:
                return await self._after(claim, current)
        return await self._verify(claim, client, repo)

    async def _suspension(self, claim: Claim) -> RemediationAction | None:
        """Admin API: suspend the account in each of its directories, then read it back."""
        action = claim.action
        org_id, account_id = action.group_id, action.account_id
        integration = await self._integrations.get(
            organization_id=action.organization_id, integration_id=action.integration_id
        )
        admin = None
        if integration is not None and self._directory_admin is not None:
            admin = await self._directory_admin(integration)
        if admin is None:
            error = "no Admin API key is set on the integration any more"
            return await self._finish(claim, ActionState.FAILED, error=error)
        if action.state is ActionState.PENDING:
            calls: list[CallRecord] = []
            try:
                directories = await admin.directories_of(org_id, account_id)
                calls.append(CallRecord("GET", DIRECTORIES, 200, None, self._clock()))
                for directory_id in directories:
                    status = await admin.suspend(org_id, directory_id, account_id)
                    calls.append(CallRecord("POST", SUSPEND, status, None, self._clock()))
            except ConfluenceError as exc:
                endpoint = getattr(exc, "endpoint", None) or SUSPEND
                method = "GET" if endpoint == DIRECTORIES else "POST"
                call, answer = self._refusal(exc, method, endpoint)
                calls.append(call)
                done = await self._remediations.record(
                    claim,
                    state=ActionState.FAILED,
                    now=self._clock(),
                    calls=calls,
                    error=answer,
                )
                return await self._after(claim, done)
            if not directories:
                error = f"Atlassian lists {account_id} in no directory of organization {org_id}"
                return await self._finish(claim, ActionState.FAILED, error=error)
            moved = await self._remediations.record(
                claim, state=ActionState.DONE, now=self._clock(), calls=calls
            )
            if moved is None:
                return None
        try:
            directories = await admin.directories_of(org_id, account_id)
            statuses = {
                d: await admin.membership_status(org_id, d, account_id) for d in directories
            }
        except ConfluenceError as exc:
            message = getattr(exc, "message", None) or str(exc)
            error = f"the read-back of the directory failed: {message}"
            return await self._finish(claim, ActionState.FAILED, error=error)
        confirmed = bool(statuses) and all(s == "suspended" for s in statuses.values())
        shown = ", ".join(f"{d}: {s}" for d, s in sorted(statuses.items())) or "no directory"
        detail = f"membership status of {account_id}: {shown}"
        verification = Verification(f"GET {DIRECTORY_USER}", confirmed, detail, self._clock())
        state = ActionState.VERIFIED if confirmed else ActionState.FAILED
        return await self._finish(
            claim, state, verification=verification, error=None if confirmed else detail
        )

    async def _client(
        self, action: RemediationAction, clients: dict[str, ConfluenceClient]
    ) -> ConfluenceClient:
        client = clients.get(action.integration_id)
        if client is None:
            integration = await self._integrations.get(
                organization_id=action.organization_id, integration_id=action.integration_id
            )
            if integration is None:
                raise LookupError("the integration no longer exists")
            client = await self._clients.confluence_for(integration, self.policy)
            clients[action.integration_id] = client
        return client

    async def _call(self, claim: Claim, client: ConfluenceClient) -> RemediationAction | None:
        action = claim.action
        try:
            status = await client.remove_group_member(action.group_id, action.account_id)
        except ConfluenceError as exc:
            call, answer = self._refusal(exc, "DELETE", GROUP_MEMBER_REMOVE)
            return await self._remediations.record(
                claim,
                state=ActionState.FAILED,
                now=self._clock(),
                calls=[call],
                error=answer,
            )
        call = CallRecord("DELETE", GROUP_MEMBER_REMOVE, status, None, self._clock())
        return await self._remediations.record(
            claim, state=ActionState.DONE, now=self._clock(), calls=[call]
        )

    def _refusal(self, exc: ConfluenceError, method: str, endpoint: str) -> tuple[CallRecord, str]:
        """The call record of a refused request and the action's error (Atlassian's answer)."""
        status = getattr(exc, "status", None)
        message = getattr(exc, "message", None) or str(exc)
        answer = f"Atlassian answered {status}: {message}" if status else message
        return CallRecord(method, endpoint, status, message, self._clock()), answer

    async def _verify(
        self, claim: Claim, client: ConfluenceClient, repo: Any
    ) -> RemediationAction | None:
        action = claim.action
        try:
            still = await _is_member(client, action.group_id, action.account_id)
        except ConfluenceError as exc:
            message = getattr(exc, "message", None) or str(exc)
            return await self._finish(
                claim, ActionState.FAILED, error=f"the read-back of the group failed: {message}"
            )
        detail = (
            f"Atlassian still lists {action.account_id} in group {action.group_name}"
            if still
            else f"{action.account_id} is no longer a member of group {action.group_name}"
        )
        verification = Verification(f"GET {GROUP_MEMBERS}", not still, detail, self._clock())
        state = ActionState.FAILED if still else ActionState.VERIFIED
        return await self._finish(
            claim, state, verification=verification, error=detail if still else None
        )

    async def _finish(
        self,
        claim: Claim,
        state: ActionState,
        *,
        error: str | None = None,
        verification: Verification | None = None,
    ) -> RemediationAction | None:
        done = await self._remediations.record(
            claim,
            state=state,
            now=self._clock(),
            verification=verification,
            error=error,
        )
        return await self._after(claim, done)

    async def _after(
        self, claim: Claim, action: RemediationAction | None
    ) -> RemediationAction | None:
        """Evidence and the event for a finished action (None: fenced out, nothing to do).

        The action keeps its lease until its evidence id is stored: a worker dying in between
        leaves it claimable, and the next claim writes the record (at least once, never lost).
        """
        if action is None:
            return None
        record = await self._record_evidence(evidence_entry(action, self._clock()))
        await self._remediations.set_evidence(claim, evidence_id=record.id)
        await self._publish(action)
        return action


async def _is_member(client: ConfluenceClient, group_id: str, account_id: str) -> bool:
    cursor: str | None = None
    try:
        while True:
            page = await client.list_group_members(group_id, cursor)
            if any(m.account_id == account_id for m in page.items):
                return True
            cursor = page.next_cursor
            if cursor is None:
                return False
    except ConfluenceNotFound:
        return False  # the group itself is gone: the account is not in it


def evidence_entry(action: RemediationAction, now: datetime) -> EvidenceEntry:
    """The hash-chain record of a finished action (filed under the check it remediates)."""
    source = action.source
    check_id = source.check_id if source.type is SourceType.CHECK else VALID_CHECK
    verification = action.verification
    body: dict[str, Any] = {
        "kind": "remediation",
        "actionId": action.id,
        "status": action.state.value if action.state else None,
        "reason": action.reason,
        "accountId": action.account_id,
        "approvedBy": action.approved_by,
        "approvedAt": action.approved_at,
        "source": {
            "type": source.type.value,
            "checkId": source.check_id,
            "resourceId": source.resource_id,
            "reviewId": source.review_id,
            "entryId": source.entry_id,
            "decision": source.decision,
        },
        "request": action.request,
        "calls": [
            {
                "method": c.method,
                "endpoint": c.endpoint,
                "status": c.status,
                "message": c.message,
                "at": c.at,
            }
            for c in action.calls
        ],
        "verification": (
            {
                "endpoint": verification.endpoint,
                "confirmed": verification.confirmed,
                "detail": verification.detail,
                "at": verification.at,
            }
            if verification
            else None
        ),
        "error": action.error,
    }
    accounts = chunk_values([{"accountId": action.account_id}])  # a list: by reference (ADR 011)
    return EvidenceEntry(
        organization_id=action.organization_id,
        check_id=check_id or OFFBOARDED_CHECK,
        evaluated_at=now,
        result=body,
        population={"kind": "remediation", "items": accounts.ref()},
        integration_id=action.integration_id,
        lists=(accounts,),
        actor_id=action.approved_by,  # who approved: described by the evidence service
    )
