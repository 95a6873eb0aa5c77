"""The check protocol: small pure objects evaluated over already-loaded data (SPEC §6).

A check is a stateless object with a stable ``id`` (never renamed: results, history,
evidence and exceptions refer to it), a ``title``, ``description`` and ``fix`` for people,
the framework ``controls`` it is evidence for, and the name of the data ``source`` it reads.
Checks are listed explicitly in ``services.checks.registry.CHECKS`` (no registration by
import side effect).

Contract of ``Check.evaluate(data) -> Outcome``:

- ``data`` is the value the engine's ``DataSource`` named ``check.source`` loaded for one
  organization at one instant (``data.now`` or equivalent is inside it). The check receives
  it read-only; it never does I/O, never reads the clock, never calls Confluence.
- It returns an ``Outcome``: ``status`` (``PASSING`` / ``FAILING`` / ``NOT_MONITORED`` /
  ``ERROR``), a human ``reason`` (required for every status but PASSING: NOT_MONITORED says
  which prerequisite is missing, ERROR says why the data is unavailable or stale),
  ``failing_items`` (one ``CheckItem`` per failing resource, ``resource_id`` unique within
  the outcome), the ``population`` it was computed over (JSON-ready, for evidence), and the
  snapshot it read (``snapshot_id`` / ``data_as_of``, None when it read none).
- FAILING iff ``failing_items`` is non-empty; PASSING has none. NOT_MONITORED and ERROR may
  carry items computed over the last good data (ERROR shows it with its age).
- It is O(n) in the size of ``data`` and deterministic: the same data gives an equal outcome
  (items sorted by ``resource_id``), so outcomes can be compared to detect changes.

The engine (``services.checks.engine``) then moves failing items whose ``(check_id,
resource_id)`` is excepted into ``excepted_items`` (a FAILING outcome left with no failing
item becomes PASSING), compares the outcome with the previous result, and only when status,
failing items or excepted items differ: calls ``record_evidence``, stores the result and
appends it to the history, and publishes it on ``checkResultUpdated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from services.checks.models import CheckItem, CheckResult, CheckStatus
from services.models import Framework

D_contra = TypeVar("D_contra", contravariant=True)
D_co = TypeVar("D_co", covariant=True)

# JSON-ready values only (str, int, float, bool, None, lists and dicts of them): the
# population goes into hash-chained evidence as canonical JSON.
PopulationItem = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ControlRef:
    """A framework control a check is evidence for (e.g. SOC2 CC6.2)."""

    framework: Framework
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Population:
    """What an evaluation looked at: ``kind`` (``accounts``, ``pages``…) and its items.

    For access checks each item is ``{"accountId", "accountStatus", "classification",
    "personId", "kind", "method"}``; for policy checks page ids, titles and versions.
    """

    kind: str
    items: tuple[PopulationItem, ...] = ()


EMPTY_POPULATION = Population(kind="none")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``Check.evaluate`` returns."""

    status: CheckStatus
    reason: str | None = None
    failing_items: tuple[CheckItem, ...] = ()
    population: Population = EMPTY_POPULATION
    snapshot_id: str | None = None
    data_as_of: datetime | None = None
    # Filled by the engine from the exception filter; checks leave it empty.
    excepted_items: tuple[CheckItem, ...] = ()
    # What the evaluation could not see, in one sentence for people (e.g. access measured
    # through group membership only); None when nothing is missing.
    note: str | None = None


class Check(Protocol[D_contra]):
    """A named rule over one data source's data; see the module docstring for the contract."""

    @property
    def id(self) -> str:
        """Stable identifier, e.g. ``confluence-user-identified``."""

    @property
    def title(self) -> str:
        """Short statement of what should be true."""

    @property
    def description(self) -> str:
        """What the check looks at and when it fails."""

    @property
    def fix(self) -> str:
        """What a person does to make it pass."""

    @property
    def controls(self) -> tuple[ControlRef, ...]:
        """Framework controls this check is evidence for."""

    @property
    def source(self) -> str:
        """Name of the ``DataSource`` whose data ``evaluate`` receives (e.g. ``access``)."""

    def evaluate(self, data: D_contra) -> Outcome:
        """Pure evaluation: no I/O, no clock, O(n)."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One check evaluated for one organization, as the engine hands it to ``record_evidence``.

    ``result`` is the new result (``evidence_id`` still None when given to ``record_evidence``),
    ``previous`` the stored result it replaces, without its items (read only for a change;
    None the first time and for unchanged evaluations), ``population`` what was evaluated,
    ``changed`` whether status / failing / excepted items differ from the stored result and
    ``status_changed`` whether the status itself did.
    """

    check: Check[Any]
    result: CheckResult
    previous: CheckResult | None
    population: Population
    changed: bool
    status_changed: bool


class DataSource(Protocol[D_co]):
    """Loads the data one source's checks read, for one organization at one instant.

    ``load`` does the I/O (indexed reads, caches); the checks stay pure. It is called at
    most once per source per engine evaluation, with the engine's clock value ``now``.
    """

    async def load(self, organization_id: str, now: datetime) -> D_co:
        """The data for ``organization_id`` as of ``now``."""


class ExceptionFilter(Protocol):
    """Which failing items are excepted (the unexpired check exceptions)."""

    async def excepted(self, organization_id: str, now: datetime) -> frozenset[tuple[str, str]]:
        """The ``(check_id, resource_id)`` pairs excepted at ``now``."""


class RecordEvidence(Protocol):
    """Called once per changed evaluation, before the result is stored (evidence plugs in).

    Returns the id of the evidence record it wrote (stored as ``CheckResult.evidence_id``)
    or None. If it raises, the change is neither stored nor published, so the next
    evaluation sees it again and retries.
    """

    async def __call__(self, evaluation: Evaluation) -> str | None:
        """Record the change; return its evidence id."""
