"""Loading ``AccessData`` for one organization: indexed reads and caches, no Confluence."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Protocol

from services.checks.access.data import GRACE_PERIOD, AccessData
from services.checks.access.population import PopulationCache
from services.identity.directory import Directory
from services.reviews.models import (
    AccessDecision,
    AccessReview,
    CompletedDecisions,
    CriticalSystem,
    SystemKind,
)


class CriticalSystemsRepo(Protocol):
    """The ``CriticalSystemRepository`` methods ``AccessDataSource`` calls."""

    async def get_by_kind(
        self, *, organization_id: str, system: SystemKind
    ) -> CriticalSystem | None: ...


class AccessReviewsRepo(Protocol):
    """The ``AccessReviewRepository`` methods ``AccessDataSource`` calls."""

    async def decisions(self, *, review_id: str) -> dict[str, AccessDecision]: ...
    async def get_open(
        self, *, organization_id: str, critical_system_id: str
    ) -> AccessReview | None: ...
    async def latest_completed(
        self, *, organization_id: str, critical_system_id: str
    ) -> AccessReview | None: ...


class AccessDataSource:
    """The ``access`` data source of the check engine."""

    def __init__(
        self,
        directory: Directory,
        *,
        critical_systems: CriticalSystemsRepo,
        access_reviews: AccessReviewsRepo,
        grace_period: timedelta = GRACE_PERIOD,
        populations: PopulationCache | None = None,
    ) -> None:
        self._critical_systems = critical_systems
        self._access_reviews = access_reviews
        self._directory = directory
        self._grace = grace_period
        self.populations = populations or PopulationCache()
        # A completed review never changes, so its decisions are read once.
        self._decisions: OrderedDict[str, CompletedDecisions] = OrderedDict()

    async def load(self, organization_id: str, now: datetime) -> AccessData:
        """Confluence's critical system, current accounts, people, identities and reviews."""
        system = await self._critical_systems.get_by_kind(
            organization_id=organization_id, system=SystemKind.CONFLUENCE
        )
        current = await self._directory.current_accounts(organization_id)
        completed = open_review = None
        if system is not None:
            reviews = self._access_reviews
            latest = await reviews.latest_completed(
                organization_id=organization_id, critical_system_id=system.id
            )
            completed = await self._completed(latest) if latest else None
            open_review = await reviews.get_open(
                organization_id=organization_id, critical_system_id=system.id
            )
        identities = await self._directory.identities(organization_id)
        return AccessData(
            now=now,
            system=system,
            integration=current.integration,
            accounts=current.accounts,
            identities=identities,
            people=await self._directory.people(organization_id),
            completed_review=completed,
            open_review=open_review,
            grace_period=self._grace,
            known_population=self.populations.population(
                organization_id, current.accounts, identities
            ),
        )

    async def _completed(self, review: AccessReview) -> CompletedDecisions:
        cached = self._decisions.get(review.id)
        if cached is None:
            assert review.completed_at is not None
            decisions = await self._access_reviews.decisions(review_id=review.id)
            cached = CompletedDecisions(review.id, review.completed_at, decisions)
            self._decisions[review.id] = cached
            while len(self._decisions) > 64:
                self._decisions.popitem(last=False)
        return cached
