"""Carrying out approved actions: leased claims, a re-check before every call, the call, read-
backs until Atlassian shows the change, one evidence record (ADR 015).

A worker loop claims one open action at a time (``RemediationRepository.claim``, a fenced
lease); ``concurrency`` loops run side by side. Per action, by state:

1. PENDING → re-checked against the current plan (``recheck``): when its reason is gone or a
   guard now blocks it, it ends CANCELLED with why and nothing is called. Else
   ``begin_call`` (PENDING → CALLING, refused if an ADMIN cancelled it meanwhile).
2. CALLING → the call (``calls.Effects``). Any 2xx — with or without a body, JSON or not — is
   DONE. A refusal is FAILED with Atlassian's answer; a refusal that will not pass by itself
   (403 not a site admin on a group removal, 401 "scope does not match") also blocks the
   connection's other writes of that kind until an ADMIN re-consents (no hammering). A
   CALLING action resumed after a crash is called again: every call sets a state, so a
   repeat is harmless.
3. DONE → read-backs with backoff (``readback_first_delay`` doubling to
   ``readback_max_delay``) until Atlassian shows the change (VERIFIED) or ``readback_window``
   after the call has passed (FAILED, the last read-back kept). Every read-back is recorded.
4. Final (VERIFIED, FAILED, CANCELLED) → one evidence record per action attempt: its unique key
   makes the store refuse a second one, whatever crashed in between; a FAILED one is also
   reported to ``on_action_failed`` (alerts).

Group removals of a connection go one at a time until one has succeeded in this process, so
a connection that is not a site admin makes exactly one refused call, not one per worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.clock import Clock, Sleep, utcnow
from services.confluence.errors import (
    ConfluenceError,
    ConfluenceForbidden,
    ConfluenceScopeError,
    ConfluenceStatusError,
)
from services.confluence.retry import RetryPolicy
from services.evidence.chunks import chunk_values
from services.evidence.models import EvidenceEntry, EvidenceRecord
from services.integrations.models import Integration
from services.remediation.calls import (
    CallRefused,
    ClientSource,
    DirectoryAdmin,
    Effects,
    NoClient,
    refusal_text,
)
from services.remediation.models import (
    OFFBOARDED_CHECK,
    VALID_CHECK,
    ActionKind,
    ActionState,
    ActionStep,
    Channel,
    Claim,
    ConnectionState,
    Refusal,
    RemediationAction,
    SourceType,
    Verification,
    evidence_key,
)

log = logging.getLogger(__name__)

Publish = Callable[[RemediationAction], Awaitable[None]]
RecordEvidence = Callable[[EvidenceEntry], Awaitable[EvidenceRecord]]
OnVerified = Callable[[Integration], Awaitable[None]]
OnActionFailed = Callable[[RemediationAction], Awaitable[None]]
Recheck = Callable[[RemediationAction], Awaitable[str | None]]


async def ignore_action_failure(action: RemediationAction) -> None:
    """The default ``on_action_failed``: nobody needs to know."""


DEFAULT_LEASE = timedelta(seconds=120)
DEFAULT_CONCURRENCY = 4
# Atlassian documents up to 30 s of eventual consistency for role changes: read back for a
# minute before calling a write FAILED.
DEFAULT_READBACK_WINDOW = timedelta(seconds=60)
DEFAULT_READBACK_FIRST_DELAY = 1.0
DEFAULT_READBACK_MAX_DELAY = 10.0
# Writes wait out rate limits, but an administrator is waiting: no hour-long pauses.
WRITE_POLICY = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=10.0, max_pause=60.0)


def default_owner() -> str:
    """host:pid:random, like sync lease owners."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def never_cancel(action: RemediationAction) -> str | None:
    """A re-check that always lets the call go (tests of the executor alone)."""
    return None


class RemediationsRepo(Protocol):
    """The ``RemediationRepository`` methods ``RemediationExecutor`` calls."""

    async def claim(
        self, *, organization_id: str, owner: str, ttl: timedelta, now: datetime
    ) -> Claim | None: ...
    async def begin_call(
        self, claim: Claim, *, now: datetime, lease_until: datetime
    ) -> RemediationAction | None: ...
    async def record(
        self, claim: Claim, step: ActionStep, *, now: datetime, lease_until: datetime | None = None
    ) -> RemediationAction | None: ...
    async def set_evidence(self, claim: Claim, *, evidence_id: str) -> None: ...
    async def connection(self, *, integration_id: str) -> ConnectionState: ...
    async def learn_account(
        self, *, organization_id: str, integration_id: str, account_id: str
    ) -> None: ...
    async def refuse(
        self, *, organization_id: str, integration_id: str, refusal: Refusal
    ) -> ConnectionState: ...


class IntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` methods ``RemediationExecutor`` calls."""

    async def get(self, *, organization_id: str, integration_id: str) -> Integration | None: ...
    async def get_by_id(self, *, integration_id: str) -> Integration | None: ...


@dataclass(eq=False, repr=False)
class RemediationExecutor:
    """Runs an organization's open actions to VERIFIED, FAILED or CANCELLED."""

    clients: ClientSource
    _: KW_ONLY
    integrations: IntegrationsRepo
    remediations: RemediationsRepo
    record_evidence: RecordEvidence
    publish: Publish
    on_verified: OnVerified
    recheck: Recheck = never_cancel
    directory_admin: DirectoryAdmin | None = None
    on_action_failed: OnActionFailed = ignore_action_failure
    policy: RetryPolicy = WRITE_POLICY
    concurrency: int = DEFAULT_CONCURRENCY
    lease: timedelta = DEFAULT_LEASE
    readback_window: timedelta = DEFAULT_READBACK_WINDOW
    readback_first_delay: float = DEFAULT_READBACK_FIRST_DELAY
    readback_max_delay: float = DEFAULT_READBACK_MAX_DELAY
    owner: str = field(default_factory=default_owner)
    clock: Clock = utcnow
    sleep: Sleep = asyncio.sleep
    # Group removals go one at a time per connection until one succeeded here.
    _gates: dict[str, asyncio.Lock] = field(init=False, default_factory=dict)
    _proven: set[str] = field(init=False, default_factory=set)
    _learnt: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.readback_first_delay <= 0 or self.readback_max_delay < self.readback_first_delay:
            raise ValueError("read-back delays must be positive and first <= max")

    async def run(self, organization_id: str) -> list[RemediationAction]:
        """Claim and finish open actions until none is claimable; the finished ones."""
        finished: list[RemediationAction] = []
        effects: dict[str, Effects] = {}
        workers = [
            self._worker(organization_id, effects, finished) for _ in range(self.concurrency)
        ]
        await asyncio.gather(*workers)
        verified = {a.integration_id for a in finished if a.state is ActionState.VERIFIED}
        for integration_id in sorted(verified):
            integration = await self.integrations.get_by_id(integration_id=integration_id)
            if integration is not None:
                try:
                    await self.on_verified(integration)
                except Exception:
                    log.exception("could not request a sync after remediation")
        return finished

    async def _worker(
        self,
        organization_id: str,
        effects: dict[str, Effects],
        finished: list[RemediationAction],
    ) -> None:
        repo = self.remediations
        while True:
            claim = await repo.claim(
                organization_id=organization_id,
                owner=self.owner,
                ttl=self.lease,
                now=self.clock(),
            )
            if claim is None:
                return
            try:
                done = await self.process(claim, effects)
            except Exception:  # one action's failure never stops the others
                log.exception("remediation action %s failed unexpectedly", claim.action.id)
                done = await repo.record(
                    claim,
                    ActionStep(
                        ActionState.FAILED, error="internal error while carrying out the action"
                    ),
                    now=self.clock(),
                )
                try:
                    done = await self._after(claim, done)
                except Exception:  # the lease expires and a later claim writes the evidence
                    log.exception("no evidence yet for remediation action %s", claim.action.id)
            if done is not None:
                finished.append(done)

    async def process(
        self, claim: Claim, effects: dict[str, Effects] | None = None
    ) -> RemediationAction | None:
        """Carry one claimed action to its end; None when the lease was lost meanwhile."""
        effects = {} if effects is None else effects
        action = claim.action
        if action.state is not None and action.state.final:
            return await self._after(claim, action)  # finished, but its evidence is not written
        try:
            effect = await self._effects(action, effects)
        except (LookupError, ConfluenceError, NoClient) as exc:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            return await self._finish(
                claim, ActionStep(ActionState.FAILED, error=f"cannot call: {message}")
            )
        current: RemediationAction | None = action
        if action.state is ActionState.PENDING:
            current = await self._start(claim, effect)
        elif action.state is ActionState.CALLING:  # resumed: the call may or may not be out
            current = await self._call(claim, effect, action)
        if current is None or current.state is not ActionState.DONE:
            return current
        return await self._verify(Claim(current, claim.token), effect)

    async def _effects(self, action: RemediationAction, effects: dict[str, Effects]) -> Effects:
        effect = effects.get(action.integration_id)
        if effect is None:
            integration = await self.integrations.get(
                organization_id=action.organization_id, integration_id=action.integration_id
            )
            if integration is None:
                raise LookupError("the integration no longer exists")
            effect = Effects(
                integration, self.clients, self.directory_admin, self.policy, self.clock
            )
            effects[action.integration_id] = effect
        return effect

    async def _start(self, claim: Claim, effect: Effects) -> RemediationAction | None:
        """Re-check, then begin and make the call (within the connection's gate)."""
        action = claim.action
        async with self._gate(action):
            connection = await self._connection(effect)
            channel = Channel.ADMIN if action.kind.admin_api else Channel.GROUPS
            refusal = connection.refusal(channel)
            why = f"blocked: {refusal.reason}" if refusal else await self.recheck(action)
            if why is not None:
                return await self._finish(
                    claim, ActionStep(ActionState.CANCELLED, cancel_reason=why)
                )
            now = self.clock()
            calling = await self.remediations.begin_call(
                claim, now=now, lease_until=now + self.lease
            )
            if calling is None:  # cancelled meanwhile, or the lease was taken over
                return None
            return await self._call(claim, effect, calling)

    @asynccontextmanager
    async def _gate(self, action: RemediationAction) -> AsyncIterator[None]:
        key = action.integration_id
        if action.kind is not ActionKind.REMOVE_FROM_GROUP or key in self._proven:
            yield
            return
        async with self._gates.setdefault(key, asyncio.Lock()):
            yield

    async def _connection(self, effect: Effects) -> ConnectionState:
        """The connection's state, after learning once which account it acts as (the
        self-removal guard of the plan reads it)."""
        integration = effect.integration
        known = await self.remediations.connection(integration_id=integration.id)
        if known.account_id is None and integration.id not in self._learnt:
            self._learnt.add(integration.id)  # one try per process
            try:
                user = await (await effect.confluence()).current_user()
            except ConfluenceError as exc:
                log.warning("could not learn the account of %s: %s", integration.id, exc)
                return known
            await self.remediations.learn_account(
                organization_id=integration.organization_id,
                integration_id=integration.id,
                account_id=user.account_id,
            )
        return known

    async def _call(
        self, claim: Claim, effect: Effects, action: RemediationAction
    ) -> RemediationAction | None:
        try:
            calls = await effect.call(action)
        except CallRefused as refused:
            await self._block_connection(effect, action, refused)
            return await self._finish(
                claim, ActionStep(ActionState.FAILED, refused.calls, error=refused.message)
            )
        except NoClient as exc:
            return await self._finish(
                claim, ActionStep(ActionState.FAILED, error=f"cannot call: {exc}")
            )
        if action.kind is ActionKind.REMOVE_FROM_GROUP:
            self._proven.add(action.integration_id)
        now = self.clock()
        done = await self.remediations.record(
            Claim(action, claim.token),
            ActionStep(ActionState.DONE, calls),
            now=now,
            lease_until=now + self.lease,
        )
        if done is not None:
            await self.publish(done)
        return done

    async def _block_connection(
        self, effect: Effects, action: RemediationAction, refused: CallRefused
    ) -> None:
        refusal = blocking_refusal(action, refused.error, self.clock())
        if refusal is None:
            return
        integration = effect.integration
        await self.remediations.refuse(
            organization_id=integration.organization_id,
            integration_id=integration.id,
            refusal=refusal,
        )

    async def _verify(self, claim: Claim, effect: Effects) -> RemediationAction | None:
        """Read back with backoff until Atlassian shows the change or the window closed."""
        action = claim.action
        called = action.calls[-1].at if action.calls else self.clock()
        deadline = called + self.readback_window
        delay = self.readback_first_delay
        while True:
            try:
                seen = await effect.read_back(action)
            except (ConfluenceError, NoClient) as exc:
                message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                seen = Verification(
                    "read-back", False, f"the read-back failed: {message}", self.clock()
                )
            if seen.confirmed:
                return await self._finish(claim, ActionStep(ActionState.VERIFIED, read_back=seen))
            now = self.clock()
            wait = min(delay, (deadline - now).total_seconds())
            if wait <= 0:
                count = len(action.read_backs) + 1
                error = (
                    f"Atlassian did not show the change in {count} read-back(s) over "
                    f"{self.readback_window.total_seconds():g} s: {seen.detail}"
                )
                return await self._finish(
                    claim, ActionStep(ActionState.FAILED, read_back=seen, error=error)
                )
            moved = await self.remediations.record(
                claim,
                ActionStep(ActionState.DONE, read_back=seen),
                now=now,
                lease_until=now + self.lease + timedelta(seconds=wait),
            )
            if moved is None:
                return None
            action = moved
            await self.sleep(wait)
            delay = min(delay * 2, self.readback_max_delay)

    async def _finish(self, claim: Claim, step: ActionStep) -> RemediationAction | None:
        done = await self.remediations.record(claim, step, now=self.clock())
        return await self._after(claim, done)

    async def _after(
        self, claim: Claim, action: RemediationAction | None
    ) -> RemediationAction | None:
        """Evidence and the event for a finished action (None: fenced out, nothing to do).

        The action keeps its lease until its evidence id is stored: a worker dying in between
        leaves it claimable, and the next claim records it — the evidence's unique key makes
        that the same record, never a second one.
        """
        if action is None:
            return None
        record = await self.record_evidence(evidence_entry(action, self.clock()))
        await self.remediations.set_evidence(claim, evidence_id=record.id)
        await self.publish(action)
        if action.state is ActionState.FAILED:
            try:
                await self.on_action_failed(action)
            except Exception:
                log.exception("reporting the failure of remediation action %s failed", action.id)
        return action


def blocking_refusal(
    action: RemediationAction, error: ConfluenceError | None, now: datetime
) -> Refusal | None:
    """A refusal that blocks the connection's other writes of the same kind, or None.

    - 401 "scope does not match": the credential lacks the write scope (an OAuth grant or a
      scoped API token for group removals; a scoped Admin API key for the Admin API calls);
    - 403 on a group removal: Atlassian's reference gives one meaning, "the user is not a site
      admin" — unless the message says the group is synced from an identity provider (which
      concerns that group only).
    """
    if not isinstance(error, ConfluenceStatusError):
        return None
    channel = Channel.ADMIN if action.kind.admin_api else Channel.GROUPS
    answer = f'Atlassian answered {error.status} "{error.message}"'
    if isinstance(error, ConfluenceScopeError):
        if channel is Channel.GROUPS:
            reason = (
                f"{answer} to a group removal: the connection's credential lacks the write "
                "scope (write:confluence-groups or write:group:confluence). For OAuth run "
                "enableConfluenceRemediation; a scoped API token is limited to the scopes it "
                "was created with: create one that includes a write scope and reconnect, "
                "then run enableConfluenceRemediation"
            )
        else:
            reason = (
                f"{answer}: the Admin API key lacks the scope for this call; set a key with "
                "the needed scopes (or an unscoped key), then run enableConfluenceRemediation"
            )
        return Refusal(channel, reason, error.status, error.message, now, action.id)
    if isinstance(error, ConfluenceForbidden) and channel is Channel.GROUPS:
        text = error.message.lower()
        if "identity provider" in text or "synced" in text:
            return None
        reason = (
            f"{answer} to a group removal: the connected account must be a site admin "
            "(Confluence administrator is not enough). The remaining group removals of this "
            "connection are blocked: make the account a site admin (or reconnect as one), "
            "then run enableConfluenceRemediation"
        )
        return Refusal(channel, reason, error.status, error.message, now, action.id)
    return None


def evidence_entry(action: RemediationAction, now: datetime) -> EvidenceEntry:
    """The hash-chain record of a finished action (filed under the check it remediates)."""
    source = action.source
    check_id = source.check_id if source.type is not SourceType.REVIEW else VALID_CHECK
    body: dict[str, Any] = {
        "kind": "remediation",
        "actionId": action.id,
        "action": action.kind.value,
        "status": action.state.value if action.state else None,
        "attempt": action.attempt,
        "occurrence": action.occurrence,
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
            "actionId": source.action_id,
        },
        "request": action.request,
        "calls": [
            {
                "method": c.method,
                "endpoint": c.endpoint,
                "target": c.target,
                "status": c.status,
                "message": c.message,
                "at": c.at,
            }
            for c in action.calls
        ],
        "readBacks": [_read_back_json(v) for v in action.read_backs],
        "verification": _read_back_json(action.verification) if action.verification else None,
        "error": action.error,
        "cancelReason": action.cancel_reason,
        "cancelledBy": action.cancelled_by,
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
        unique_key=evidence_key(action),
        actor_id=action.approved_by,  # who approved: described by the evidence service
    )


def _read_back_json(v: Verification) -> dict[str, Any]:
    return {
        "endpoint": v.endpoint,
        "confirmed": v.confirmed,
        "detail": v.detail,
        "at": v.at,
        # Each field as Atlassian names it, and what it describes (membershipStatus is the
        # organization's aggregate, userDirectoryStatus one directory's).
        "observed": [{"field": o.field, "value": o.value, "scope": o.scope} for o in v.observed],
    }


__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_LEASE",
    "WRITE_POLICY",
    "ClientSource",
    "RemediationExecutor",
    "blocking_refusal",
    "evidence_entry",
    "refusal_text",
]
