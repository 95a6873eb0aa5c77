"""The composition root: builds the store, bus and services from settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from api.access_setup import AccessParts, build_access
from api.metrics import Metrics
from api.policy_setup import PolicyParts, build_policies
from api.ratelimit import RateLimiter
from api.remediation_setup import build_remediation
from api.settings import Settings
from api.sockets import SocketRegistry
from api.sync_setup import SyncParts, build_sync
from resolvers.context import AppServices
from services.api_keys import ApiKeyService
from services.crypto import keyring_from_settings
from services.events import EventBus, InMemoryEventBus
from services.events.replicated import ReplicatedEventBus
from services.integrations.clients import AtlassianConfig, ClientFactory
from services.integrations.models import Integration
from services.integrations.oauth_flow import OAuthFlow
from services.integrations.service import IntegrationService
from services.integrations.tokens import RefreshLocks
from services.integrations.vault import CredentialVault
from services.remediation.consent import RemediationConsent
from services.remediation.service import RemediationService
from services.store import Store
from services.sync.connector import ConnectorFactory
from services.sync.integration_connector import IntegrationConnectorFactory

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything a process needs, built once and handed to the app and the CLI."""

    settings: Settings
    store: Store
    bus: EventBus
    access: ApiKeyService
    metrics: Metrics
    rate_limiter: RateLimiter
    http: httpx.AsyncClient
    remediation: RemediationService  # issue 16
    integrations: IntegrationService
    oauth: OAuthFlow
    sync: SyncParts
    compliance: AccessParts
    policy: PolicyParts
    sockets: SocketRegistry
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: Settings,
        store: Store | None = None,
        *,
        connectors: ConnectorFactory | None = None,
    ) -> Container:
        """Wire the services for ``settings`` (``store`` and ``connectors`` injected by tests)."""
        keyring, warning = keyring_from_settings(
            _secret(settings.secret_key),
            _secret(settings.secret_keys_old),
            development=settings.development,
        )
        if warning:
            log.warning(warning)
        store = store or Store.open(settings.mongodb_url_value(), settings.mongodb_db)
        # Processes sharing a real database share events through it (change streams).
        bus: EventBus = InMemoryEventBus() if store.embedded else ReplicatedEventBus(store.events)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(20.0, connect=5.0), headers={"User-Agent": "Vigil"}
        )
        vault = CredentialVault(store.credentials, keyring)
        config = AtlassianConfig(
            auth_url=settings.atlassian_auth_url,
            api_url=settings.atlassian_api_url,
            redirect_uri=settings.public_url.rstrip("/") + "/oauth/confluence/callback",
            oauth_client_id=settings.oauth_client_id,
            oauth_client_secret=_secret(settings.oauth_client_secret) or "",
            allow_insecure_urls=settings.allow_insecure_urls,
        )
        reauth = _LateBound()
        clients = ClientFactory(http, config, vault, store.credentials, RefreshLocks(), reauth)
        integrations = IntegrationService(
            vault,
            clients,
            bus,
            integrations=store.integrations,
            sync_interval_minutes=settings.sync_interval_minutes,
        )
        reauth.target = integrations.mark_needs_reauth
        metrics = Metrics(subscriber_count=bus.subscriber_count)
        connectors = connectors or IntegrationConnectorFactory(clients)
        policy = build_policies(settings, store)
        sync = build_sync(
            settings,
            store,
            bus,
            metrics,
            connectors,
            protected=policy.protected,
            on_reauth=integrations.mark_needs_reauth,
        )
        integrations.on_connected(sync.service.request_initial_sync)  # SPEC §2.1.4: first sync
        # An admin key brings MFA and last activity: sync now, or right after the running run.
        integrations.on_collection_changed(sync.service.collection_changed)
        compliance = build_access(
            settings,
            store,
            bus,
            sync,
            sources=policy.sources,
            on_changed=policy.recorder,
            exceptions=policy.exceptions,
        )
        integrations.on_changed(compliance.integration_changed)
        access = ApiKeyService(bus, organizations=store.organizations, api_keys=store.api_keys)
        policy.attach(compliance.reevaluator, sync, access, bus)
        remediation = build_remediation(
            store, bus, sync.reader, clients, policy.evidence, sync.service, vault
        )
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            access=access,
            metrics=metrics,
            rate_limiter=RateLimiter(settings.rate_limit_per_minute),
            http=http,
            remediation=remediation,
            integrations=integrations,
            oauth=OAuthFlow(
                integrations,
                config.redirect_uri,
                integrations=store.integrations,
                oauth_states=store.oauth_states,
            ),
            sync=sync,
            compliance=compliance,
            policy=policy,
            sockets=SocketRegistry(
                bus,
                access.key_still_valid,
                max_per_key=settings.max_websockets_per_key,
                recheck_seconds=settings.key_recheck_seconds,
            ),
        )

    def services(self) -> AppServices:
        """The services exposed to resolvers."""
        return AppServices(
            api_keys=self.access,
            bus=self.bus,
            integrations=self.integrations,
            oauth=self.oauth,
            sync=self.sync.service,
            snapshots=self.sync.reader,
            people=self.compliance.people,
            identities=self.compliance.identities,
            accounts=self.compliance.accounts,
            systems=self.compliance.systems,
            reviews=self.compliance.reviews,
            checks=self.compliance.checks,
            policies=self.policy.policies,
            evidence=self.policy.evidence,
            check_exceptions=self.policy.exceptions,
            remediation=self.remediation,
            remediation_consent=RemediationConsent(
                self.oauth, integrations=self.store.integrations
            ),
        )

    async def start(self) -> None:
        """Prepare the store (indexes) and start background tasks."""
        await self.store.ensure_indexes()
        if self.settings.run_worker:  # issue 16: finish actions whose worker died
            self.tasks.append(asyncio.create_task(self.remediation.resume_forever()))
        if isinstance(self.bus, ReplicatedEventBus):
            self.tasks.append(asyncio.create_task(self.bus.run()))
            await asyncio.wait_for(self.bus.ready.wait(), timeout=10)
        if self.settings.run_worker:
            self.tasks.append(asyncio.create_task(self.sync.scheduler.run_forever()))
            self.tasks.append(asyncio.create_task(self._evaluate_periodically()))
            self.tasks.append(
                asyncio.create_task(
                    self.policy.evidence.log_checkpoints(
                        self.store.organizations.list_ids,
                        self.settings.evidence_checkpoint_minutes * 60,
                    )
                )
            )

    async def _evaluate_periodically(self) -> None:
        """Every organization's checks, now and every ``check_interval_minutes``."""
        await self.compliance.reevaluator.run_periodic(
            self.store.organizations.list_ids, self.settings.check_interval_minutes * 60
        )

    async def stop(self) -> None:
        """Stop background tasks and close the store."""
        await self.remediation.stop()
        await self.compliance.reevaluator.stop()
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


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class _LateBound:
    """Breaks the construction cycle between the client factory and the service."""

    target: Callable[[Integration, str], Awaitable[None]] | None = None

    async def __call__(self, integration: Integration, message: str) -> None:
        if self.target is not None:
            await self.target(integration, message)
