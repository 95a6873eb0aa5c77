"""The composition root: builds everything a process needs, in dependency order.

``build`` reads top to bottom; every object receives what it needs through its constructor
and nothing is patched afterwards:

1. store and bus (and the HTTP client, the credential vault, the Atlassian configuration)
2. repositories (the store's)
3. loaders and data sources: snapshots, the people/identity directory, policy state, the
   exception filter, the engine's data sources
4. the evidence recorder
5. the alerts: the notifier and ``AlertReactions`` (the engine, the sync runner and the
   remediation executor report to them), the dispatcher (worker), the ``AlertService``
6. the check engine
7. re-evaluation: the re-evaluator, then ``CheckReactions`` (``services/reactions.py``)
8. what the other reactions call: integration changes (``IntegrationChanges``, which the
   client factory reports refused authorizations to), identities, policies; then
   ``Reactions``
9. the sync pipeline: its runner receives ``Reactions.after_sync_committed`` as on_committed;
   then ``IntegrationReactions`` (they call the sync service)
10. the services resolvers call, each handed its reaction

What happens after a change is listed in ``services/reactions.py``, not here.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from api.budgets import AddressLimiter
from api.heartbeat import Heartbeat
from api.metrics import Metrics
from api.ratelimit import LocalRateLimiter, RateLimiter, SharedRateLimiter
from api.settings import Settings
from api.sockets import SocketRegistry
from resolvers.context import AppServices
from services.alerts.channels import ChannelSecrets
from services.alerts.mail import SmtpConfig, SmtpMailer
from services.alerts.outbox import Dispatcher, DispatchOptions, Notifier, Wakeup
from services.alerts.senders import ChannelSender
from services.alerts.service import AlertService
from services.alerts.transport import HttpxPoster
from services.api_keys import ApiKeyService
from services.atlassian.directory_admin import DirectoryAdminClient
from services.audit.package import AuditPackages, AuditSources
from services.callbacks import OnAction
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
from services.evidence.checkpoints import CheckpointFile, CheckpointSink
from services.evidence.downloads import DownloadLinks
from services.evidence.keys import EvidenceSigner
from services.evidence.models import CHECK_RESULT, REMEDIATION_ACTION, Anchor, DownloadGrant
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
from services.models import Action, ActorKind, Principal
from services.organizations import OrganizationService
from services.people.service import PeopleService
from services.policies.service import PolicyService
from services.policies.state import PolicyStateLoader
from services.reactions import AlertReactions, CheckReactions, IntegrationReactions, Reactions
from services.remediation.consent import RemediationConsent
from services.remediation.executor import WRITE_POLICY, RemediationExecutor
from services.remediation.planner import RemediationPlanner
from services.remediation.resync import Resync
from services.remediation.service import RemediationService
from services.reviews.service import AccessReviewService
from services.reviews.systems import CriticalSystemService
from services.scheduler import Scheduler
from services.signin.atlassian import AtlassianSignIn
from services.signin.flow import Provider, SignInService
from services.signin.oidc import OidcConfig, OidcProvider
from services.store import Store
from services.sync.connector import ConnectorFactory
from services.sync.integration_connector import IntegrationConnectorFactory
from services.sync.models import SnapshotAccount, SnapshotManifest, SyncRun
from services.sync.progress import NullSyncMetrics, SyncMetrics
from services.sync.queue import RunQueue
from services.sync.reads import SnapshotReader
from services.sync.retention import ProtectedSnapshots, Retention
from services.sync.runner import (
    OnCommitted,
    OnReauthNeeded,
    OnSyncFailed,
    RunnerOptions,
    SyncRunner,
    ignore_sync_failure,
)
from services.sync.service import SyncService
from services.users.service import INVITATION_TTL, MemberService
from services.users.sessions import SessionPolicy, SessionService
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
class AlertParts:
    """What the container holds of the alerts."""

    reactions: AlertReactions  # what the engine, the runner and the executor report to
    dispatcher: Dispatcher  # the worker side: coalesce and send
    service: AlertService  # besides ``services.alerts``


@dataclass
class Container:
    """Everything a process needs, built once and handed to the app and the CLI."""

    settings: Settings
    store: Store
    bus: EventBus
    metrics: Metrics
    rate_limiter: RateLimiter  # operations per API key
    cost_limiter: RateLimiter  # operation cost per API key (``api.budgets.KeyCost``)
    address_limiter: AddressLimiter  # failed authentications per client address
    http: httpx.AsyncClient
    services: AppServices  # what the resolvers call (and the CLI, tests and benchmarks)
    sync: SyncParts  # the runner and the scheduler, besides ``services.sync``
    alerts: AlertParts  # the dispatcher (worker), besides ``services.alerts``
    remediation: RemediationService  # besides ``services.remediation``: started and stopped
    directory: Directory
    engine: CheckEngine
    reevaluator: Reevaluator
    reactions: Reactions
    sockets: SocketRegistry
    signin: SignInService
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
        evidence = build_evidence(settings, store, http=http, keyring=keyring)
        recorder = EvidenceRecorder(
            evidence, integrations=store.integrations, check_exceptions=store.check_exceptions
        )
        protected = EvidencedSnapshots(integrations=store.integrations, evidence=store.evidence)

        # 5. The alerts: what the engine, the runner and the executor report changes to.
        alerts = _build_alerts(settings, store, keyring, http, metrics)

        # 6. The check engine.
        engine = CheckEngine(
            bus,
            check_results=store.check_results,
            checks=CHECKS,
            sources={ACCESS: access_source, POLICY: policy_source},
            record_evidence=recorder,
            exceptions=ActiveExceptions(store.check_exceptions),
            on_result_changed=alerts.reactions.after_result_changed,
        )

        # 7. Re-evaluation, and the reactions that only re-evaluate and announce.
        reevaluator = Reevaluator(engine)
        checks = CheckReactions(reevaluator, bus)

        # 8. What the remaining reactions call, then those reactions.
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
            policy_state,
            policies=store.policies,
            on_policies_changed=checks.after_policies_changed,
            on_action=record_action(evidence),
        )
        reactions = Reactions(
            checks,
            reevaluator,
            bus,
            identities=identities,
            policies=policies,
            integrations=changes,
        )

        # 9. The sync pipeline, then the reactions that ask it for syncs.
        sync = _build_sync(
            settings,
            store,
            bus,
            metrics,
            connectors or IntegrationConnectorFactory(clients),
            reader,
            protected,
            reactions=reactions,
            alerts=alerts.reactions,
            changes=changes,
        )
        syncs = IntegrationReactions(sync.service)

        # 10. The services resolvers call, each handed its reaction.
        integrations = IntegrationService(
            vault,
            clients,
            changes,
            integrations=store.integrations,
            on_connected=syncs.after_connected,
            on_collection_changed=syncs.after_collection_changed,
            sync_interval_minutes=settings.sync_interval_minutes,
        )
        api_keys, sessions, members = build_members(
            store,
            bus,
            session_policy=SessionPolicy(
                idle=timedelta(minutes=settings.session_idle_minutes),
                absolute=timedelta(hours=settings.session_max_hours),
            ),
            invitation_ttl=timedelta(days=settings.invitation_days),
        )
        signin = SignInService(
            _signin_providers(settings, http, clients),
            sessions,
            members,
            public_url=settings.public_url,
            allowed_domains=settings.email_domain_list,
        )
        organizations = OrganizationService(
            api_keys,
            organizations=store.organizations,
            on_frameworks_changed=checks.after_frameworks_changed,
        )
        remediation = _build_remediation(
            settings,
            store,
            bus,
            directory,
            clients,
            evidence,
            sync.service,
            vault,
            alerts.reactions,
        )
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
            members=members,
            sessions=sessions,
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
                on_action=record_action(evidence),
            ),
            checks=CheckService(bus, engine, check_results=store.check_results),
            policies=policies,
            evidence=evidence,
            downloads=DownloadLinks(
                evidence,
                keyring,
                download_links=store.download_links,
                holder=link_holder(api_keys, sessions),
            ),
            audit=build_audit(evidence, store),
            check_exceptions=ExceptionService(
                store.check_exceptions,
                check_ids=check_ids,
                failing=_failing_items(store),
                on_exceptions_changed=checks.after_exceptions_changed,
                on_action=record_action(evidence),
            ),
            alerts=alerts.service,
            remediation=remediation,
            remediation_consent=RemediationConsent(
                oauth, integrations=store.integrations, remediations=store.remediations
            ),
            change_watch=ChangeWatchService(states=store.watch, enabled=settings.change_watch),
        )
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            metrics=metrics,
            rate_limiter=_rate_limiter(settings.rate_limit_per_minute, store, metrics),
            cost_limiter=_rate_limiter(settings.cost_limit_per_minute, store, metrics),
            address_limiter=AddressLimiter(settings.unauthenticated_per_minute),
            http=http,
            services=services,
            sync=sync,
            alerts=alerts,
            remediation=remediation,
            directory=directory,
            engine=engine,
            reevaluator=reevaluator,
            reactions=reactions,
            sockets=SocketRegistry(
                bus,
                credential_check(api_keys, sessions),
                max_per_key=settings.max_websockets_per_key,
                recheck_seconds=settings.key_recheck_seconds,
            ),
            signin=signin,
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
            self.tasks.append(asyncio.create_task(self.alerts.dispatcher.run_forever()))
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
        await self.rate_limiter.stop()
        await self.cost_limiter.stop()
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


def build_evidence(
    settings: Settings,
    store: Store,
    *,
    http: httpx.AsyncClient | None = None,
    keyring: KeyRing | None = None,
) -> EvidenceService:
    """The evidence service with its HMAC key (also used alone by ``vigil evidence``), the
    organizations' signing keys (encrypted under ``keyring``, by default the settings'), the
    references that anchor the chain and where signed checkpoints go (a webhook needs
    ``http``; a process without one only reads the checkpoint file back)."""
    key, warning = evidence_key_from_settings(
        _secret(settings.evidence_hmac_key), development=settings.development
    )
    if warning:
        log.warning(warning)

    async def anchors(organization_id: str) -> list[Anchor]:
        heads = await store.check_results.list_latest_heads(organization_id=organization_id)
        actions = await store.remediations.evidence_refs(organization_id=organization_id)
        return [
            Anchor(CHECK_RESULT, v.result.check_id, v.result.evidence_id)
            for v in heads
            if v.result.evidence_id
        ] + [Anchor(REMEDIATION_ACTION, action, record) for action, record in actions]

    async def actors(organization_id: str, actor_id: str) -> Mapping[str, Any]:
        """Who a stored "who acted" id is (a person, a key of this organization, or Vigil)."""
        if actor_id.startswith("usr_"):
            user = await store.users.get(user_id=actor_id)
            return {
                "kind": ActorKind.PERSON.value,
                "id": actor_id,
                "name": user.display_name if user else None,
                "email": user.email if user else None,
                "atlassianAccountId": user.atlassian_account_id if user else None,
            }
        key = await store.api_keys.get(key_id=actor_id)
        if key is not None and key.organization_id == organization_id:
            return {"kind": ActorKind.API_KEY.value, "id": actor_id, "name": key.name}
        return {"kind": ActorKind.SYSTEM.value, "id": actor_id, "name": None}

    kept = (
        CheckpointFile(settings.evidence_checkpoint_file)
        if settings.evidence_checkpoint_file
        else None
    )
    sinks: list[CheckpointSink] = [kept] if kept is not None else []
    if settings.evidence_checkpoint_url and http is not None:
        sinks.append(CheckpointWebhook(http, settings.evidence_checkpoint_url))

    return EvidenceService(
        store.evidence,
        key,
        chunks=store.evidence_chunks,
        check_ids=check_ids,
        anchors=anchors,
        actors=actors,
        checkpoint_sinks=sinks,
        kept_checkpoints=kept,
        signer=EvidenceSigner(store.evidence_keys, keyring or _keyring(settings)),
    )


def build_members(
    store: Store,
    bus: EventBus,
    *,
    session_policy: SessionPolicy | None = None,
    invitation_ttl: timedelta = INVITATION_TTL,
) -> tuple[ApiKeyService, SessionService, MemberService]:
    """API keys, sessions and members (also built alone by the store tests): removing a
    member ends their sessions and revokes their keys."""
    api_keys = ApiKeyService(bus, organizations=store.organizations, api_keys=store.api_keys)
    sessions = SessionService(
        bus,
        sessions=store.sessions,
        memberships=store.memberships,
        users=store.users,
        policy=session_policy,
    )
    members = MemberService(
        api_keys,
        sessions,
        users=store.users,
        memberships=store.memberships,
        invitations_repo=store.invitations,
        organizations=store.organizations,
        invitation_ttl=invitation_ttl,
    )
    return api_keys, sessions, members


def build_audit(evidence: EvidenceService, store: Store) -> AuditPackages:
    """The auditor's packages (also used alone by ``vigil audit export``)."""
    sources = AuditSources(
        evidence=store.evidence,
        chunks=store.evidence_chunks,
        organizations=store.organizations,
        exceptions=store.check_exceptions,
        reviews=store.access_reviews,
        systems=store.critical_systems,
        remediations=store.remediations,
        policies=store.policies,
        people=store.people,
        snapshots=store.snapshot_queries,
    )
    return AuditPackages(evidence, sources, version=vigil_version())


def vigil_version() -> str:
    """The installed distribution's version ("unknown" when run from a bare tree)."""
    try:
        return importlib.metadata.version("vigil")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class CheckpointWebhook:
    """Evidence checkpoints POSTed as JSON to a URL (an archive, a ticketing system, a SIEM);
    any answer but 2xx is a failed delivery."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self._http = http
        self._url = url
        self.name = "the checkpoint webhook"  # the URL may carry a token: never logged

    async def send(self, point: Mapping[str, Any]) -> None:
        response = await self._http.post(self._url, json=dict(point))
        response.raise_for_status()


def record_action(evidence: EvidenceService) -> OnAction:
    """Every decision a person or key makes, sealed into the evidence chain."""

    async def record(action: Action) -> None:
        await evidence.record_action(action)

    return record


def worker_identity() -> str:
    """A lease owner name: host, process and a random suffix (unique per process start)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def build_queue(
    store: Store, bus: EventBus, options: RunnerOptions, metrics: SyncMetrics | None = None
) -> RunQueue:
    """The one owner of sync runs, over ``store``'s repositories."""
    return RunQueue(
        bus,
        options,
        integrations=store.integrations,
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        snapshot_data=store.snapshot_data,
        metrics=metrics or NullSyncMetrics(),
    )


def build_runner(
    store: Store,
    bus: EventBus,
    connectors: ConnectorFactory,
    options: RunnerOptions,
    *,
    keep: int,
    protected: ProtectedSnapshots | None,
    on_reauth_needed: OnReauthNeeded,
    on_committed: Sequence[OnCommitted] = (),
    on_sync_failed: OnSyncFailed = ignore_sync_failure,
    metrics: SyncMetrics | None = None,
) -> SyncRunner:
    """The runner and its queue (``runner.queue``) over ``store``'s repositories, keeping the
    last ``keep`` snapshots and those ``protected`` holds; tests build theirs here too."""
    retention = Retention(
        store.sync_runs, store.snapshot_data, protected, keep=keep, layers=store.snapshot_layers
    )
    return SyncRunner(
        queue=build_queue(store, bus, options, metrics),
        sync_runs=store.sync_runs,
        sync_leases=store.sync_leases,
        snapshot_data=store.snapshot_data,
        bus=bus,
        connectors=connectors,
        retention=retention,
        options=options,
        on_reauth_needed=on_reauth_needed,
        metrics=metrics or NullSyncMetrics(),
        on_committed=on_committed,
        on_sync_failed=on_sync_failed,
        refresh_data=store.snapshot_refresh,
    )


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
    alerts: AlertReactions,
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
    runner = build_runner(
        store,
        bus,
        connectors,
        options,
        keep=settings.snapshot_retention,
        protected=protected,
        on_reauth_needed=changes.mark_needs_reauth,
        on_committed=reactions.after_sync_committed(),
        on_sync_failed=alerts.after_sync_failed,
        metrics=metrics,
    )
    queue = runner.queue
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
    settings: Settings,
    store: Store,
    bus: EventBus,
    directory: Directory,
    clients: ClientFactory,
    evidence: EvidenceService,
    sync: SyncService,
    vault: CredentialVault,
    alerts: AlertReactions,
) -> RemediationService:
    """Planner, executor and service; verified changes trigger a sync (ADR 010, ADR 015)."""

    async def get_run(run_id: str) -> SyncRun | None:
        return await store.sync_runs.get(run_id=run_id)

    resync = Resync(sync.enqueue, get_run)

    async def directory_admin(integration: Integration) -> DirectoryAdminClient | None:
        """The Admin API client for the Admin API writes, when the integration has a key."""
        if not integration.has_admin_key:
            return None
        secret = await vault.load(integration.organization_id, integration.id, ADMIN_API_KEY)
        if secret is None:
            return None
        return DirectoryAdminClient(
            clients.http, secret.values["api_key"], WRITE_POLICY, api_base=clients.config.api_url
        )

    planner = RemediationPlanner(
        directory,
        remediations=store.remediations,
        check_results=store.check_results,
        critical_systems=store.critical_systems,
        access_reviews=store.access_reviews,
        sync_runs=store.sync_runs,
    )

    def executor(service: RemediationService) -> RemediationExecutor:
        return RemediationExecutor(
            clients,
            integrations=store.integrations,
            remediations=store.remediations,
            record_evidence=evidence.record,
            publish=service.publish,
            on_verified=resync,
            recheck=planner.recheck,
            directory_admin=directory_admin,
            on_action_failed=alerts.after_action_failed,
            lease=timedelta(seconds=settings.remediation_lease_seconds),
            readback_window=timedelta(seconds=settings.remediation_readback_seconds),
        )

    return RemediationService(
        bus,
        planner,
        executor,
        remediations=store.remediations,
        integrations=store.integrations,
        on_stopped=(resync.stop,),
        resume_seconds=settings.remediation_resume_seconds,
    )


def _build_alerts(
    settings: Settings, store: Store, keyring: KeyRing, http: httpx.AsyncClient, metrics: Metrics
) -> AlertParts:
    """The notifier (and its reactions), the dispatcher and the service, sharing one wake-up
    so that an alert recorded in this process is sent without waiting for the next poll."""
    wakeup = Wakeup()
    secrets_ = ChannelSecrets(store.alert_channels, keyring)
    smtp = _smtp_config(settings)
    timeout = settings.alert_timeout_seconds
    sender = ChannelSender(
        HttpxPoster(http, timeout=timeout), SmtpMailer(smtp) if smtp is not None else None
    )
    notifier = Notifier(
        alerts=store.alerts, channels=store.alert_channels, wakeup=wakeup, metrics=metrics
    )
    options = DispatchOptions(
        owner=worker_identity(),
        coalesce=timedelta(seconds=settings.alert_coalesce_seconds),
        poll=settings.alert_poll_seconds,
        max_attempts=settings.alert_max_attempts,
        retry_base=settings.alert_retry_base_seconds,
        # Longer than any one attempt (an SMTP exchange is several timed steps).
        lease=timedelta(seconds=max(60.0, timeout * 6)),
    )
    dispatcher = Dispatcher(
        sender,
        secrets_,
        alerts=store.alerts,
        deliveries=store.alert_deliveries,
        channels=store.alert_channels,
        wakeup=wakeup,
        options=options,
        metrics=metrics,
    )
    service = AlertService(
        secrets_,
        wakeup,
        channels=store.alert_channels,
        alert_deliveries=store.alert_deliveries,
        allow_insecure_urls=settings.allow_insecure_urls,
        email_configured=smtp is not None,
    )
    return AlertParts(reactions=AlertReactions(notifier), dispatcher=dispatcher, service=service)


def _smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        sender=settings.smtp_from,
        username=settings.smtp_username or None,
        password=_secret(settings.smtp_password),
        timeout=settings.alert_timeout_seconds,
    )


def link_holder(
    api_keys: ApiKeyService, sessions: SessionService
) -> Callable[[DownloadGrant], Awaitable[Principal | None]]:
    """Who made a download link, if their key or session still holds with the same role."""

    async def holder(grant: DownloadGrant) -> Principal | None:
        if grant.session_id is not None:
            found = await sessions.principal_of(grant.session_id)
            same = found is not None and found.organization_id == grant.organization_id
            return found if same and found is not None and found.role is grant.role else None
        if grant.api_key_id is None:
            return None
        principal = Principal(grant.organization_id, grant.role, api_key_id=grant.api_key_id)
        return principal if await api_keys.key_still_valid(principal) else None

    return holder


def credential_check(
    api_keys: ApiKeyService, sessions: SessionService
) -> Callable[[Principal], Awaitable[bool]]:
    """Whether a caller's credential still holds: its session, or its API key."""

    async def still_valid(principal: Principal) -> bool:
        if principal.session_id is not None:
            return await sessions.still_valid(principal)
        return await api_keys.key_still_valid(principal)

    return still_valid


def _signin_providers(
    settings: Settings, http: httpx.AsyncClient, clients: ClientFactory
) -> list[Provider]:
    """The configured identity providers: Atlassian (with the 3LO app), then OIDC."""
    providers: list[Provider] = []
    if settings.signin_atlassian and clients.config.oauth_configured:
        providers.append(AtlassianSignIn(clients.oauth()))
    if settings.oidc_issuer:
        config = OidcConfig(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=_secret(settings.oidc_client_secret) or "",
            name=settings.oidc_name,
        )
        providers.append(OidcProvider(http, config))
    return providers


def _failing_items(store: Store) -> FailingItems:
    async def failing(organization_id: str, check_id: str) -> set[str]:
        latest = await store.check_results.get_latest(
            organization_id=organization_id, check_id=check_id
        )
        return {i.resource_id for i in latest.failing_items} if latest else set()

    return failing


def _rate_limiter(per_minute: int, store: Store, metrics: Metrics) -> RateLimiter:
    """One bucket per key for every API process on the database (the embedded store has one
    process, which keeps them in memory). Operations and cost use different bucket names
    (``api.budgets.KeyCost``), so they share the collection, never a bucket."""
    if store.embedded:
        return LocalRateLimiter(per_minute)
    return SharedRateLimiter(
        store.rate_limits, per_minute, on_store_error=metrics.rate_limit_store_errors.inc
    )


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
