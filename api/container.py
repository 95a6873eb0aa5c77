"""The composition root: builds everything a process needs, in dependency order.

``build`` reads top to bottom; every object receives what it needs through its constructor
and nothing is patched afterwards:

1. store and bus (and the HTTP client, the credential vault, the Atlassian configuration)
2. repositories (the store's)
3. loaders and data sources: snapshots, the people/identity directory, policy state, the
   exception filter, the engine's data sources
4. the evidence recorder
5. the check engine
6. re-evaluation: the re-evaluator, then ``CheckReactions`` (``services/reactions.py``)
7. what the other reactions call: integration changes (``IntegrationChanges``, which the
   client factory reports refused authorizations to), identities, policies; then
   ``Reactions``
8. the sync pipeline: its runner receives ``Reactions.after_sync_committed`` as on_committed;
   then ``IntegrationReactions`` (they call the sync service)
9. the services resolvers call, each handed its reaction

What happens after a change is listed in ``services/reactions.py``, not here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from pydantic import SecretStr

from api.heartbeat import Heartbeat
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.settings import Settings
from api.sockets import SocketRegistry
from resolvers.context import AppServices
from services.api_keys import ApiKeyService
from services.atlassian.directory_admin import DirectoryAdminClient
from services.check_exceptions.service import ActiveExceptions, ExceptionService, FailingItems
from services.checks.access.data import ACCESS
from services.checks.access.source import AccessDataSource
from services.checks.engine import CheckEngine
from services.checks.policy.data import POLICY, PolicyDataSource
from services.checks.registry import CHECKS
from services.checks.service import CheckService
from services.checks.triggers import Reevaluator
from services.crypto import KeyRing, keyring_from_settings
from services.events import EventBus, InMemoryEventBus
from services.events.replicated import ReplicatedEventBus
from services.evidence.chain import evidence_key_from_settings
from services.evidence.recorder import EvidenceRecorder
from services.evidence.service import EvidencedSnapshots, EvidenceService
from services.identity.accounts import AccountService
from services.identity.directory import Directory
from services.identity.service import IdentityService
from services.integrations.changes import IntegrationChanges
from services.integrations.clients import AtlassianConfig, ClientFactory
from services.integrations.models import Integration
from services.integrations.oauth_flow import OAuthFlow
from services.integrations.service import IntegrationService
from services.integrations.tokens import RefreshLocks
from services.integrations.vault import ADMIN_API_KEY, CredentialVault
from services.organizations import OrganizationService
from services.people.service import PeopleService
from services.policies.service import PolicyService
from services.policies.state import PolicyStateLoader
from services.reactions import CheckReactions, IntegrationReactions, Reactions
from services.remediation.consent import RemediationConsent
from services.remediation.executor import WRITE_POLICY, RemediationExecutor
from services.remediation.planner import RemediationPlanner
from services.remediation.resync import Resync
from services.remediation.service import RemediationService
from services.reviews.service import AccessReviewService
from services.reviews.systems import CriticalSystemService
from services.scheduler import Scheduler
from services.store import Store
from services.sync.connector import ConnectorFactory
from services.sync.integration_connector import IntegrationConnectorFactory
from services.sync.models import SnapshotAccount, SnapshotManifest, SyncRun
from services.sync.queue import RunQueue
from services.sync.reads import SnapshotReader
from services.sync.retention import Retention
from services.sync.runner import RunnerOptions, SyncRunner
from services.sync.service import SyncService
from services.watch.service import ChangeWatchService, Watchers
from services.watch.watcher import WatchDeps, WatchOptions

log = logging.getLogger(__name__)

CHECK_IDS = frozenset(c.id for c in CHECKS)


def check_ids() -> frozenset[str]:
    """The registered checks' ids (evidence and exceptions refuse others)."""
    return CHECK_IDS


@dataclass
class SyncParts:
    """What the container holds of the sync pipeline."""

    queue: RunQueue
    runner: SyncRunner
    scheduler: Scheduler
    service: SyncService
    reader: SnapshotReader
    watchers: Watchers  # the change watch (ADR 020), run by workers


@dataclass
class Container:
    """Everything a process needs, built once and handed to the app and the CLI."""

    settings: Settings
    store: Store
    bus: EventBus
    metrics: Metrics
    rate_limiter: RateLimiter
    http: httpx.AsyncClient
    services: AppServices  # what the resolvers call (and the CLI, tests and benchmarks)
    sync: SyncParts  # the runner and the scheduler, besides ``services.sync``
    remediation: RemediationService  # besides ``services.remediation``: started and stopped
    directory: Directory
    engine: CheckEngine
    reevaluator: Reevaluator
    reactions: Reactions
    sockets: SocketRegistry
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: Settings,
        store: Store | None = None,
        *,
        connectors: ConnectorFactory | None = None,
        bus: EventBus | None = None,
    ) -> Container:
        """Wire the services for ``settings`` (``store``, ``connectors`` and ``bus`` injected
        by tests), in the order of the module docstring."""
        # 1. Store and bus; the HTTP client, the credential vault, Atlassian's configuration.
        keyring = _keyring(settings)  # first: a missing key stops the process before any I/O
        store = store or Store.open(
            settings.mongodb_url_value(),
            settings.mongodb_db,
            max_document_bytes=settings.max_document_bytes,
        )
        # Processes sharing a real database share events through it (change streams).
        if bus is None:
            bus = InMemoryEventBus() if store.embedded else ReplicatedEventBus(store.events)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(20.0, connect=5.0), headers={"User-Agent": "Vigil"}
        )
        vault = CredentialVault(store.credentials, keyring)
        config = _atlassian_config(settings)
        metrics = Metrics(
            subscriber_count=bus.subscriber_count, refused_documents=store.guard.refusals
        )

        # 2. Repositories: the store's (``store.people``, ``store.check_results``, ...).
        # 3. Loaders and data sources.
        reader = SnapshotReader(
            integrations=store.integrations, snapshot_queries=store.snapshot_queries
        )
        directory = Directory(
            reader,
            people=store.people,
            identities=store.identities,
            snapshot_queries=store.snapshot_queries,
            max_age=timedelta(minutes=settings.check_interval_minutes),
        )
        policy_state = PolicyStateLoader(
            reader,
            organizations=store.organizations,
            policies=store.policies,
            snapshot_queries=store.snapshot_queries,
        )
        policy_source = PolicyDataSource(policy_state)
        access_source = AccessDataSource(
            directory,
            critical_systems=store.critical_systems,
            access_reviews=store.access_reviews,
            grace_period=timedelta(hours=settings.offboarding_grace_hours),
        )

        # 4. The evidence recorder (and the snapshots evidence keeps from retention).
        evidence = build_evidence(settings, store)
        recorder = EvidenceRecorder(
            evidence, integrations=store.integrations, check_exceptions=store.check_exceptions
        )
        protected = EvidencedSnapshots(integrations=store.integrations, evidence=store.evidence)

        # 5. The check engine.
        engine = CheckEngine(
            bus,
            check_results=store.check_results,
            checks=CHECKS,
            sources={ACCESS: access_source, POLICY: policy_source},
            record_evidence=recorder,
            exceptions=ActiveExceptions(store.check_exceptions),
        )

        # 6. Re-evaluation, and the reactions that only re-evaluate and announce.
        reevaluator = Reevaluator(engine)
        checks = CheckReactions(reevaluator, bus)

        # 7. What the remaining reactions call, then those reactions.
        changes = IntegrationChanges(
            bus,
            integrations=store.integrations,
            on_integration_changed=checks.after_integration_changed,
        )
        clients = ClientFactory(
            http, config, vault, store.credentials, RefreshLocks(), changes.mark_needs_reauth
        )
        identities = IdentityService(
            directory,
            identities=store.identities,
            people=store.people,
            on_identity_decided=checks.after_identity_decided,
        )
        policies = PolicyService(
            policy_state, policies=store.policies, on_policies_changed=checks.after_policies_changed
        )
        reactions = Reactions(
            checks,
            reevaluator,
            bus,
            identities=identities,
            policies=policies,
            integrations=changes,
        )

        # 8. The sync pipeline, then the reactions that ask it for syncs.
        sync = _build_sync(
            settings,
            store,
            bus,
            metrics,
            connectors or IntegrationConnectorFactory(clients),
            reader,
            protected,
            reactions=reactions,
            changes=changes,
        )
        syncs = IntegrationReactions(sync.service)

        # 9. The services resolvers call, each handed its reaction.
        integrations = IntegrationService(
            vault,
            clients,
            changes,
            integrations=store.integrations,
            on_connected=syncs.after_connected,
            on_collection_changed=syncs.after_collection_changed,
            sync_interval_minutes=settings.sync_interval_minutes,
        )
        api_keys = ApiKeyService(bus, organizations=store.organizations, api_keys=store.api_keys)
        organizations = OrganizationService(
            api_keys,
            organizations=store.organizations,
            on_frameworks_changed=checks.after_frameworks_changed,
        )
        remediation = _build_remediation(store, bus, reader, clients, evidence, sync.service, vault)
        oauth = OAuthFlow(
            integrations,
            config.redirect_uri,
            integrations=store.integrations,
            oauth_states=store.oauth_states,
        )
        services = AppServices(
            api_keys=api_keys,
            organizations=organizations,
            bus=bus,
            integrations=integrations,
            oauth=oauth,
            sync=sync.service,
            snapshots=reader,
            people=PeopleService(
                directory, people=store.people, on_people_changed=reactions.after_people_changed
            ),
            identities=identities,
            accounts=AccountService(reader, directory),
            systems=CriticalSystemService(
                critical_systems=store.critical_systems,
                integrations=store.integrations,
                on_systems_changed=checks.after_systems_changed,
            ),
            reviews=AccessReviewService(
                directory,
                access_reviews=store.access_reviews,
                critical_systems=store.critical_systems,
                on_review_changed=checks.after_review_changed,
            ),
            checks=CheckService(bus, engine, check_results=store.check_results),
            policies=policies,
            evidence=evidence,
            check_exceptions=ExceptionService(
                store.check_exceptions,
                check_ids=check_ids,
                failing=_failing_items(store),
                on_exceptions_changed=checks.after_exceptions_changed,
            ),
            remediation=remediation,
            remediation_consent=RemediationConsent(oauth, integrations=store.integrations),
            change_watch=ChangeWatchService(states=store.watch, enabled=settings.change_watch),
        )
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            metrics=metrics,
            rate_limiter=RateLimiter(settings.rate_limit_per_minute),
            http=http,
            services=services,
            sync=sync,
            remediation=remediation,
            directory=directory,
            engine=engine,
            reevaluator=reevaluator,
            reactions=reactions,
            sockets=SocketRegistry(
                bus,
                api_keys.key_still_valid,
                max_per_key=settings.max_websockets_per_key,
                recheck_seconds=settings.key_recheck_seconds,
            ),
        )

    async def start(self) -> None:
        """Prepare the store (indexes) and start background tasks."""
        await self.store.ensure_indexes()
        if self.settings.run_worker:  # finish actions whose worker died
            self.tasks.append(asyncio.create_task(self.remediation.resume_forever()))
        if isinstance(self.bus, ReplicatedEventBus):
            self.tasks.append(asyncio.create_task(self.bus.run()))
            await asyncio.wait_for(self.bus.ready.wait(), timeout=10)
        if self.settings.run_worker:
            self.tasks.append(asyncio.create_task(self.sync.scheduler.run_forever()))
            if self.settings.change_watch:
                self.tasks.append(asyncio.create_task(self.sync.watchers.run_forever()))
            self.tasks.append(asyncio.create_task(self._evaluate_periodically()))
            self.tasks.append(
                asyncio.create_task(
                    self.services.evidence.log_checkpoints(
                        self.store.organizations.list_ids,
                        self.settings.evidence_checkpoint_minutes * 60,
                    )
                )
            )

    async def _evaluate_periodically(self) -> None:
        """Every organization's checks, now and every ``check_interval_minutes``."""
        await self.reevaluator.run_periodic(
            self.store.organizations.list_ids, self.settings.check_interval_minutes * 60
        )

    async def stop(self) -> None:
        """Stop background tasks and close the store."""
        await self.remediation.stop()
        await self.reevaluator.stop()
        await self.sockets.stop()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("background task failed while stopping")
        self.tasks.clear()
        await self.http.aclose()
        self.store.close()


def build_evidence(settings: Settings, store: Store) -> EvidenceService:
    """The evidence service with its HMAC key (also used alone by ``vigil evidence``)."""
    key, warning = evidence_key_from_settings(
        _secret(settings.evidence_hmac_key), development=settings.development
    )
    if warning:
        log.warning(warning)

    async def anchors(organization_id: str) -> list[tuple[str, str]]:
        heads = await store.check_results.list_latest_heads(organization_id=organization_id)
        return [(v.result.check_id, v.result.evidence_id) for v in heads if v.result.evidence_id]

    return EvidenceService(
        store.evidence,
        key,
        chunks=store.evidence_chunks,
        check_ids=check_ids,
        anchors=anchors,
    )


def worker_identity() -> str:
    """A lease owner name: host, process and a random suffix (unique per process start)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _build_sync(
    settings: Settings,
    store: Store,
    bus: EventBus,
    metrics: Metrics,
    connectors: ConnectorFactory,
    reader: SnapshotReader,
    protected: EvidencedSnapshots,
    *,
    reactions: Reactions,
    changes: IntegrationChanges,
) -> SyncParts:
    """The run queue, the runner (with its on_committed reactions), its scheduler, and the service
    resolvers call."""
    options = RunnerOptions(
        owner=worker_identity(),
        lease_ttl=timedelta(seconds=settings.sync_lease_seconds),
        concurrency=settings.sync_concurrency,
        role_reads=settings.sync_role_reads,
        max_layer=settings.change_watch_max_layer,
    )
    queue = RunQueue(
        bus,
        options,
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        snapshot_data=store.snapshot_data,
        metrics=metrics,
    )
    retention = Retention(
        store.sync_runs,
        store.snapshot_data,
        protected,
        keep=settings.snapshot_retention,
        layers=store.snapshot_layers,
    )
    runner = SyncRunner(
        queue=queue,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        snapshot_data=store.snapshot_data,
        bus=bus,
        connectors=connectors,
        retention=retention,
        options=options,
        on_reauth_needed=changes.mark_needs_reauth,
        metrics=metrics,
        on_committed=reactions.after_sync_committed(),
        refresh_data=store.snapshot_refresh,
    )
    scheduler = Scheduler(
        runner,
        queue,
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        tick_seconds=settings.scheduler_tick_seconds,
        max_parallel=settings.sync_max_parallel,
        on_tick=Heartbeat(settings.worker_heartbeat_file).beat
        if settings.worker_heartbeat_file
        else None,
    )
    dispatch = scheduler.submit if settings.run_worker else None
    watch_options = WatchOptions(
        owner=options.owner,
        poll_seconds=settings.change_watch_poll_seconds,
        coalesce_seconds=settings.change_watch_coalesce_seconds,
        start_back=timedelta(minutes=settings.change_watch_start_minutes),
        lease_ttl=timedelta(seconds=settings.change_watch_lease_seconds),
        settle_seconds=settings.change_watch_settle_seconds,
    )
    watch_deps = WatchDeps(
        integrations=store.integrations,
        watch=store.watch,
        runs=store.sync_runs,
        queue=queue,
        connectors=connectors,
        snapshots=_WatchSnapshots(store),
        dispatch=dispatch,
        metrics=metrics,
    )
    watchers = Watchers(
        watch_deps,
        watch_options,
        integrations=store.integrations,
        leases=store.watch,
        tick_seconds=settings.scheduler_tick_seconds,
    )
    return SyncParts(
        queue=queue,
        runner=runner,
        scheduler=scheduler,
        service=SyncService(
            bus,
            queue,
            sync_runs=store.sync_runs,
            integrations=store.integrations,
            dispatch=dispatch,
        ),
        reader=reader,
        watchers=watchers,
    )


class _WatchSnapshots:
    """Manifests and accounts of snapshots, as the change watch reads them."""

    def __init__(self, store: Store) -> None:
        self._layers = store.snapshot_layers
        self._queries = store.snapshot_queries

    async def manifest(self, snapshot_id: str) -> SnapshotManifest | None:
        """How the snapshot is stored."""
        return await self._layers.manifest(snapshot_id)

    def iter_accounts(self, *, snapshot_id: str) -> AsyncIterator[SnapshotAccount]:
        """Every account of the snapshot, by account id."""
        return self._queries.iter_accounts(snapshot_id=snapshot_id)


def _build_remediation(
    store: Store,
    bus: EventBus,
    reader: SnapshotReader,
    clients: ClientFactory,
    evidence: EvidenceService,
    sync: SyncService,
    vault: CredentialVault,
) -> RemediationService:
    """Planner, executor and service; verified changes trigger a sync (ADR 010)."""

    async def get_run(run_id: str) -> SyncRun | None:
        return await store.sync_runs.get(run_id=run_id)

    resync = Resync(sync.enqueue, get_run)

    async def directory_admin(integration: Integration) -> DirectoryAdminClient | None:
        """The Admin API client for suspension, when the integration has an admin key."""
        if not integration.has_admin_key:
            return None
        secret = await vault.load(integration.organization_id, integration.id, ADMIN_API_KEY)
        if secret is None:
            return None
        return DirectoryAdminClient(
            clients.http, secret.values["api_key"], WRITE_POLICY, api_base=clients.config.api_url
        )

    def executor(service: RemediationService) -> RemediationExecutor:
        return RemediationExecutor(
            clients,
            integrations=store.integrations,
            remediations=store.remediations,
            record_evidence=evidence.record,
            publish=service.publish,
            on_verified=resync,
            directory_admin=directory_admin,
        )

    planner = RemediationPlanner(
        reader,
        snapshot_queries=store.snapshot_queries,
        remediations=store.remediations,
        check_results=store.check_results,
        critical_systems=store.critical_systems,
        access_reviews=store.access_reviews,
    )
    return RemediationService(
        bus, planner, executor, remediations=store.remediations, on_stopped=(resync.stop,)
    )


def _failing_items(store: Store) -> FailingItems:
    async def failing(organization_id: str, check_id: str) -> set[str]:
        latest = await store.check_results.get_latest(
            organization_id=organization_id, check_id=check_id
        )
        return {i.resource_id for i in latest.failing_items} if latest else set()

    return failing


def _keyring(settings: Settings) -> KeyRing:
    keyring, warning = keyring_from_settings(
        _secret(settings.secret_key),
        _secret(settings.secret_keys_old),
        development=settings.development,
    )
    if warning:
        log.warning(warning)
    return keyring


def _atlassian_config(settings: Settings) -> AtlassianConfig:
    return AtlassianConfig(
        auth_url=settings.atlassian_auth_url,
        api_url=settings.atlassian_api_url,
        redirect_uri=settings.public_url.rstrip("/") + "/oauth/confluence/callback",
        oauth_client_id=settings.oauth_client_id,
        oauth_client_secret=_secret(settings.oauth_client_secret) or "",
        allow_insecure_urls=settings.allow_insecure_urls,
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
