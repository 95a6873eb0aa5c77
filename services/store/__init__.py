"""Persistence: the only package that imports the MongoDB driver."""

from __future__ import annotations

from typing import Any

from services.store.access_reviews import AccessReviewRepository
from services.store.alerts import (
    AlertChannelRepository,
    AlertDeliveryRepository,
    AlertRepository,
)
from services.store.api_keys import ApiKeyRepository
from services.store.check_exceptions import CheckExceptionRepository
from services.store.check_results import CheckResultRepository
from services.store.client import connect
from services.store.credentials import CredentialRepository
from services.store.critical_systems import CriticalSystemRepository
from services.store.download_links import DownloadLinkRepository
from services.store.events import EventLogRepository
from services.store.evidence import EvidenceRepository
from services.store.evidence_chunks import EvidenceChunkRepository
from services.store.evidence_keys import EvidenceKeyRepository
from services.store.guard import DEFAULT_MAX_DOCUMENT_BYTES, DocumentGuard, GuardedDatabase
from services.store.identities import IdentityRepository
from services.store.integrations import IntegrationRepository
from services.store.oauth_states import OAuthStateRepository
from services.store.organizations import OrganizationRepository
from services.store.packs import Packs
from services.store.people import PeopleRepository
from services.store.policies import PolicyDocumentRepository
from services.store.rate_limits import RateLimitRepository
from services.store.remediations import RemediationRepository
from services.store.revisions import RevisionRepository
from services.store.sessions import SessionRepository
from services.store.snapshot_data import SnapshotDataRepository
from services.store.snapshot_layers import SnapshotLayers
from services.store.snapshot_queries import SnapshotQueryRepository
from services.store.snapshot_refresh import SnapshotRefreshRepository
from services.store.sync_leases import LeaseRepository
from services.store.sync_runs import SyncRunRepository
from services.store.users import InvitationRepository, MembershipRepository, UserRepository
from services.store.watch import WatchRepository


class Store:
    """One database and its repositories; built by the composition root.

    Every repository writes through ``guard`` (``services/store/guard.py``): no document over
    ``max_document_bytes`` is sent to either store.
    """

    def __init__(
        self,
        client: Any,
        db_name: str,
        *,
        embedded: bool,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    ) -> None:
        self._client = client
        self.db_name = db_name
        self.guard = DocumentGuard(max_document_bytes)
        self._db = GuardedDatabase(client[db_name], self.guard)
        self.embedded = embedded
        self.organizations = OrganizationRepository(self._db)
        self.api_keys = ApiKeyRepository(self._db)
        self.integrations = IntegrationRepository(self._db)
        self.credentials = CredentialRepository(self._db)
        self.oauth_states = OAuthStateRepository(self._db)
        self.events = EventLogRepository(self._db)
        self.sync_runs = SyncRunRepository(self._db)
        self.sync_leases = LeaseRepository(self._db)
        # Snapshot manifests (layers of targeted runs, ADR 020), shared by every reader.
        self.snapshot_layers = SnapshotLayers(self._db)
        self.snapshot_data = SnapshotDataRepository(self._db, self.snapshot_layers)
        self.snapshot_queries = SnapshotQueryRepository(
            self._db, self.snapshot_layers, items_by_id=embedded
        )
        self.snapshot_refresh = SnapshotRefreshRepository(self._db, self.snapshot_layers)
        self.watch = WatchRepository(self._db)
        # People, identities, critical systems, reviews, check results, evidence, policies.
        self.revisions = RevisionRepository(self._db)
        self.packs = Packs(self._db)  # copies for whole reads (ADR 026), kept by the owners
        self.people = PeopleRepository(self._db, self.revisions)
        self.identities = IdentityRepository(self._db, self.revisions)
        self.critical_systems = CriticalSystemRepository(self._db)
        self.access_reviews = AccessReviewRepository(self._db)
        self.check_results = CheckResultRepository(self._db)
        self.evidence = EvidenceRepository(self._db)
        self.evidence_chunks = EvidenceChunkRepository(self._db)
        self.evidence_keys = EvidenceKeyRepository(self._db)
        self.policies = PolicyDocumentRepository(self._db)
        self.check_exceptions = CheckExceptionRepository(self._db)
        self.remediations = RemediationRepository(self._db, self.snapshot_layers)
        # Alerts: channels, alerts (deduplicated by key), the delivery queue.
        self.alert_channels = AlertChannelRepository(self._db)
        self.alerts = AlertRepository(self._db)
        self.alert_deliveries = AlertDeliveryRepository(self._db)
        self.download_links = DownloadLinkRepository(self._db)
        self.rate_limits = RateLimitRepository(self._db)
        # People who sign in: users, memberships, invitations, sessions.
        self.users = UserRepository(self._db)
        self.memberships = MembershipRepository(self._db)
        self.invitations = InvitationRepository(self._db)
        self.sessions = SessionRepository(self._db)

    @classmethod
    def open(
        cls,
        url: str | None,
        db_name: str,
        *,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    ) -> Store:
        """Connect to ``url`` (or the embedded in-memory store when it is empty)."""
        client, embedded = connect(url)
        return cls(client, db_name, embedded=embedded, max_document_bytes=max_document_bytes)

    async def ensure_indexes(self) -> None:
        """Create every index Vigil relies on (idempotent)."""
        repositories = (
            self.organizations,
            self.api_keys,
            self.integrations,
            self.credentials,
            self.oauth_states,
            self.events,
            self.sync_runs,
            self.sync_leases,
            self.snapshot_data,
            self.snapshot_queries,
            self.snapshot_layers,
            self.snapshot_refresh,
            self.watch,
            self.revisions,
            self.packs,
            self.people,
            self.identities,
            self.critical_systems,
            self.access_reviews,
            self.check_results,
            self.evidence,
            self.evidence_chunks,
            self.evidence_keys,
            self.policies,
            self.check_exceptions,
            self.remediations,
            self.alert_channels,
            self.alerts,
            self.alert_deliveries,
            self.download_links,
            self.rate_limits,
            self.users,
            self.memberships,
            self.invitations,
            self.sessions,
        )
        for repo in repositories:
            await repo.ensure_indexes()

    async def ping(self) -> bool:
        """Whether the database answers."""
        try:
            await self._client.admin.command("ping")
        except Exception:
            return False
        return True

    async def drop(self) -> None:
        """Drop the whole database (tests only)."""
        await self._client.drop_database(self._db.name)

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()


__all__ = ["Store"]
