"""The check engine: load each source's data once, evaluate pure checks, record changes.

``evaluate(org, scopes)`` runs, per organization and one at a time in this process, the
checks the scopes select (all, a source's, or those reading one input of a source:
``services.checks.scopes``; the others are neither evaluated nor touched):

1. ``now`` from the clock; the data of every needed source (``DataSource.load``); the
   excepted ``(check_id, resource_id)`` pairs (``ExceptionFilter``); the stored states.
2. per check, in a worker thread (checks are pure; the event loop keeps serving):
   ``check.evaluate(data)`` (an exception becomes ERROR "internal error") — or, for a check
   that can (``IncrementalCheck``: the access checks), ``check.evaluate_from(data, held)``
   from what it held after its previous evaluation of the organization (the accounts a
   change touched are judged again, not the population) — then failing items that are
   excepted move to ``excepted_items`` (FAILING with none left becomes PASSING).
3. ``_record``: the outcome's digest (status + failing + excepted items as multisets:
   ``services.checks.models.outcome_digest``, which costs what changed) is compared with
   the stored one. Unchanged → only evaluated time, reason and data age are updated.
   Changed → ``record_evidence`` gets the ``Evaluation`` and returns the
   evidence id; the result is stored (compare-and-set on its version, so two processes
   cannot both record one change), appended to the history, and published on the bus
   (``checkResultUpdated``), then reported to ``on_result_changed`` (alerts). ``changedAt``
   moves at every recorded change (a new result id); ``statusChangedAt`` only when the
   status changes.

A changed outcome the store refuses to record because a document would be over its size
limit (``DocumentTooLarge``) is not dropped in silence: the check's result becomes
``ERROR`` with a reason saying so (recorded, with its own small evidence record, and
published), the store counts the refusal at ``/metrics``, and the log says which document.
The same outcome is not tried again for ``UNRECORDED_RETRY`` (it would be refused again);
a different outcome is tried at once. Any other failure while recording leaves the stored
result as it was and the next evaluation retries.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, Protocol

from services.checks.base import (
    EMPTY_POPULATION,
    Check,
    DataSource,
    Evaluation,
    ExceptionFilter,
    Outcome,
    RecordEvidence,
)
from services.checks.events import CHECKS_CHANNEL, result_event
from services.checks.models import (
    CheckItem,
    CheckResult,
    CheckStatus,
    ResultView,
    StoredState,
    item_hash,
    items_sum,
    remember_sum,
    same_outcome,
)
from services.checks.scopes import selects
from services.clock import Clock, utcnow_ms
from services.errors import DocumentTooLarge
from services.events import EventBus, topic_for
from services.ids import new_id

log = logging.getLogger(__name__)

INTERNAL = "internal error while evaluating this check; it is logged"
# What incremental checks hold between evaluations: per (organization, check), at most this
# many (least recently evaluated first out).
MAX_HELD = 1024
# How long an outcome the store refused stays unrecorded before it is tried again (a
# raised VIGIL_MAX_DOCUMENT_BYTES takes effect then, without a change of outcome).
UNRECORDED_RETRY = timedelta(hours=1)


def unrecordable_reason(error: DocumentTooLarge) -> str:
    """The ERROR reason of a result the store refused to record."""
    return (
        f"this result could not be recorded: {error}; the check's outcome is unknown until "
        "it can be (see the server log and vigil_store_documents_refused_total)"
    )


OnResultChanged = Callable[[Evaluation], Awaitable[None]]
"""Told each recorded change (once, by the process whose write won), after it is published."""


async def ignore_result_change(evaluation: Evaluation) -> None:
    """The default ``on_result_changed``: nobody needs to know."""


async def no_evidence(evaluation: Evaluation) -> str | None:
    """The default ``record_evidence``: records nothing."""
    return None


class NoExceptions:
    """The default exception filter: nothing is excepted."""

    async def excepted(self, organization_id: str, now: datetime) -> frozenset[tuple[str, str]]:
        """No pairs."""
        return frozenset()


class CheckResultsRepo(Protocol):
    """The ``CheckResultRepository`` methods ``CheckEngine`` calls."""

    async def list_latest_heads(
        self, *, organization_id: str, check_id: str | None = None
    ) -> list[ResultView]: ...
    async def record_change(
        self,
        result: CheckResult,
        *,
        expected_version: int | None,
        unrecorded: tuple[str, datetime] | None = None,
    ) -> bool: ...
    async def states(self, *, organization_id: str) -> dict[str, StoredState]: ...
    async def touch(
        self,
        result: CheckResult,
        *,
        expected_version: int,
        unrecorded: tuple[str, datetime] | None = None,
    ) -> bool: ...


@dataclass(eq=False, repr=False)
class CheckEngine:
    """Evaluates the registry's checks for an organization and records what changed."""

    bus: EventBus
    _: KW_ONLY
    check_results: CheckResultsRepo
    checks: Sequence[Check[Any]]
    sources: Mapping[str, DataSource[Any]]
    record_evidence: RecordEvidence = no_evidence
    exceptions: ExceptionFilter = field(default_factory=NoExceptions)
    on_result_changed: OnResultChanged = ignore_result_change
    clock: Clock = utcnow_ms
    _locks: dict[str, asyncio.Lock] = field(init=False, default_factory=dict)
    # (organization, check id) → what an ``IncrementalCheck`` held after evaluating it.
    _held: OrderedDict[tuple[str, str], Any] = field(init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.checks = tuple(self.checks)
        self.sources = dict(self.sources)

    def held(self, organization_id: str, check_id: str) -> Any:
        """What an incremental check held after its last evaluation of the organization
        (None: nothing; for tests and benchmarks)."""
        return self._held.get((organization_id, check_id))

    def definition(self, check_id: str) -> Check[Any] | None:
        """The registered check with this id."""
        return next((c for c in self.checks if c.id == check_id), None)

    async def evaluate(
        self, organization_id: str, sources: Collection[str] | None = None
    ) -> list[Evaluation]:
        """Evaluate the checks of ``sources`` (all when None) for one organization.

        ``sources`` holds source names or ``source:input`` scopes (``services.checks.scopes``):
        only the checks they select are evaluated, stored or touched.
        """
        lock = self._locks.setdefault(organization_id, asyncio.Lock())
        async with lock:
            return await self._evaluate(organization_id, sources)

    async def _evaluate(
        self, organization_id: str, sources: Collection[str] | None
    ) -> list[Evaluation]:
        now = self.clock()
        selected = [c for c in self.checks if c.source in self.sources and selects(c, sources)]
        data = await self._load(organization_id, {c.source for c in selected}, now)
        excepted = await self.exceptions.excepted(organization_id, now)
        states = await self.check_results.states(organization_id=organization_id)
        # The checks are pure and CPU-bound (O(accounts)): run them off the event loop, so
        # requests are served meanwhile.
        runnable = [c for c in selected if c.source in data]
        outcomes = await asyncio.to_thread(self._run_all, organization_id, runnable, data)
        evaluations = []
        for check, raw in zip(runnable, outcomes, strict=True):
            outcome = _except(check.id, raw, excepted)
            recorded = await self._record(
                organization_id, check, outcome, states.get(check.id), now
            )
            if recorded is not None:
                evaluations.append(recorded)
        return evaluations

    def _run_all(
        self, organization_id: str, checks: Sequence[Check[Any]], data: Mapping[str, Any]
    ) -> list[Outcome]:
        """Each check's outcome (in a worker thread; one evaluation per organization at a
        time, so what incremental checks hold is never used by two at once)."""
        outcomes = []
        for check in checks:
            evaluate_from = getattr(check, "evaluate_from", None)
            if evaluate_from is None:
                outcomes.append(_run(check, data[check.source]))
                continue
            key = (organization_id, check.id)
            held = self._held.pop(key, None)
            try:
                outcome, held = evaluate_from(data[check.source], held)
            except Exception:
                log.exception("check %s raised while evaluating", check.id)
                outcome, held = Outcome(CheckStatus.ERROR, INTERNAL), None
            if held is not None:
                self._held[key] = held
                while len(self._held) > MAX_HELD:
                    self._held.popitem(last=False)
            outcomes.append(outcome)
        return outcomes

    async def _load(self, organization_id: str, names: set[str], now: datetime) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in sorted(names):
            try:
                data[name] = await self.sources[name].load(organization_id, now)
            except Exception:
                log.exception(
                    "could not load %s data for %s; its checks keep their results",
                    name,
                    organization_id,
                )
        return data

    async def _record(
        self,
        organization_id: str,
        check: Check[Any],
        outcome: Outcome,
        state: StoredState | None,
        now: datetime,
    ) -> Evaluation | None:
        result = CheckResult(
            organization_id=organization_id,
            check_id=check.id,
            status=outcome.status,
            reason=outcome.reason,
            failing_items=outcome.failing_items,
            excepted_items=outcome.excepted_items,
            evaluated_at=now,
            changed_at=now,
            status_changed_at=now,
            data_as_of=outcome.data_as_of,
            snapshot_id=outcome.snapshot_id,
            note=outcome.note,
        )
        results = self.check_results
        if state is not None and same_outcome(state.digest, result):
            kept = _kept(result, state)
            await results.touch(kept, expected_version=state.version)
            return Evaluation(check, kept, None, outcome.population, False, False)
        if (
            state is not None
            and same_outcome(state.unrecorded_digest, result)
            and state.unrecorded_at is not None
            and now - state.unrecorded_at < UNRECORDED_RETRY
        ):  # refused a moment ago: the result stays the ERROR that says so
            kept = _unrecorded(result, state)
            await results.touch(kept, expected_version=state.version)
            return Evaluation(check, kept, None, outcome.population, False, False)
        try:
            recorded = await self._record_change(check, result, state, outcome.population)
        except DocumentTooLarge as error:
            log.error(
                "the result of %s for %s cannot be recorded (%s): it is recorded as ERROR",
                check.id,
                organization_id,
                error,
            )
            recorded = await self._record_unrecordable(check, result, state, error, now)
        if recorded is not None and recorded.changed:
            await self._publish(recorded.result)
            try:
                await self.on_result_changed(recorded)
            except Exception:
                log.exception("reporting the change of %s failed", check.id)
        return recorded

    async def _publish(self, result: CheckResult) -> None:
        topic = topic_for(result.organization_id, CHECKS_CHANNEL)
        await self.bus.publish(topic, result_event(result))

    async def _record_change(
        self,
        check: Check[Any],
        result: CheckResult,
        state: StoredState | None,
        population: Any,
        unrecorded: tuple[str, datetime] | None = None,
    ) -> Evaluation | None:
        """Evidence, then the stored result (compare-and-set); the caller publishes it."""
        results = self.check_results
        organization_id = result.organization_id
        previous = None
        if state is not None:  # without its items: the hook needs its status and evidence
            heads = await results.list_latest_heads(
                organization_id=organization_id, check_id=check.id
            )
            previous = heads[0].result if heads else None
        status_changed = state is None or state.status is not result.status
        if not status_changed and state is not None:
            result = replace(result, status_changed_at=state.status_changed_at or state.changed_at)
        result = replace(result, id=new_id("res"))
        evaluation = Evaluation(check, result, previous, population, True, status_changed)
        try:
            evidence_id = await self.record_evidence(evaluation)
        except DocumentTooLarge:
            raise
        except Exception:
            log.exception("recording the change of %s failed; it will be retried", check.id)
            return None
        result = replace(result, evidence_id=evidence_id)
        expected = state.version if state is not None else None
        if not await results.record_change(
            result, expected_version=expected, unrecorded=unrecorded
        ):
            log.info("another process recorded %s for %s first", check.id, organization_id)
            return None
        return replace(evaluation, result=result)

    async def _record_unrecordable(
        self,
        check: Check[Any],
        result: CheckResult,
        state: StoredState | None,
        error: DocumentTooLarge,
        now: datetime,
    ) -> Evaluation | None:
        """Record ERROR in place of an outcome the store refused (without its items and
        population: evidence of the refusal, not of the outcome)."""
        unrecorded = (result.digest, now)
        failed = replace(
            result,
            status=CheckStatus.ERROR,
            reason=unrecordable_reason(error),
            failing_items=(),
            excepted_items=(),
        )
        if state is not None and same_outcome(state.digest, failed):  # already that ERROR
            kept = _kept(failed, state)
            await self.check_results.touch(
                kept, expected_version=state.version, unrecorded=unrecorded
            )
            return Evaluation(check, kept, None, EMPTY_POPULATION, False, False)
        try:
            return await self._record_change(check, failed, state, EMPTY_POPULATION, unrecorded)
        except DocumentTooLarge:
            log.exception("even the ERROR of %s cannot be recorded", check.id)
            return None


def _kept(result: CheckResult, state: StoredState) -> CheckResult:
    """``result`` re-evaluated without a change: the stored result's times and evidence."""
    return replace(
        result,
        changed_at=state.changed_at,
        status_changed_at=state.status_changed_at,
        evidence_id=state.evidence_id,
    )


def _unrecorded(result: CheckResult, state: StoredState) -> CheckResult:
    """The stored ERROR that stands for ``result``'s unrecordable outcome, re-evaluated."""
    return _kept(
        replace(
            result,
            status=CheckStatus.ERROR,
            reason=state.reason,
            failing_items=(),
            excepted_items=(),
        ),
        state,
    )


def _run(check: Check[Any], data: Any) -> Outcome:
    try:
        return check.evaluate(data)
    except Exception:
        log.exception("check %s raised while evaluating", check.id)
        return Outcome(CheckStatus.ERROR, INTERNAL)


def _except(check_id: str, outcome: Outcome, excepted: frozenset[tuple[str, str]]) -> Outcome:
    """Move failing items whose ``(check_id, resource_id)`` is excepted to ``excepted_items``.

    Failing items are sorted by resource id (the ``Check`` contract), so a large outcome is
    searched for the excepted ids (cost: the exceptions, not the items), and the sums of
    both tuples are derived from the outcome's (``remember_sum``)."""
    if not excepted:
        return outcome
    wanted = sorted({rid for cid, rid in excepted if cid == check_id})
    failing = outcome.failing_items
    if not wanted or not failing:
        return outcome
    if len(failing) <= LINEAR_EXCEPT:
        ids = set(wanted)
        moved = tuple(i for i in failing if i.resource_id in ids)
        if not moved:
            return outcome
        failing = tuple(i for i in failing if i.resource_id not in ids)
    else:
        positions = []
        for rid in wanted:
            at = bisect_left(failing, rid, key=_RESOURCE_ID)
            if at < len(failing) and failing[at].resource_id == rid:
                positions.append(at)
        if not positions:
            return outcome
        total = items_sum(outcome.failing_items)
        moved = tuple(failing[p] for p in positions)
        kept: list[CheckItem] = []
        previous = 0
        for p in positions:
            kept.extend(failing[previous:p])
            previous = p + 1
        kept.extend(failing[previous:])
        failing = tuple(kept)
        moved_sum = sum(map(item_hash, moved))
        remember_sum(failing, total - moved_sum)
    status, reason = outcome.status, outcome.reason
    if status is CheckStatus.FAILING and not failing:
        status, reason = CheckStatus.PASSING, "every failing item is covered by an exception"
    elif status is CheckStatus.FAILING:
        reason = f"{len(failing)} failing item(s), {len(moved)} excepted"
    return replace(
        outcome, status=status, reason=reason, failing_items=failing, excepted_items=moved
    )


# Outcomes up to this many failing items are filtered item by item (whatever their order).
LINEAR_EXCEPT = 256
_RESOURCE_ID = attrgetter("resource_id")
