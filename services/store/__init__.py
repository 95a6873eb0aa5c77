"""Persistence: the only package that imports the MongoDB driver."""

from __future__ import annotations

from typing import Any

from services.store.api_keys import ApiKeyRepository
from services.store.client import connect
from services.store.credentials import CredentialRepository
from services.store.integrations import IntegrationRepository
from services.store.oauth_states import OAuthStateRepository
from services.store.organizations import OrganizationRepository


class Store:
    """One database and its repositories; built by the composition root."""

    def __init__(self, client: Any, db_name: str, *, embedded: bool) -> None:
        self._client = client
        self._db = client[db_name]
        self.embedded = embedded
        self.organizations = OrganizationRepository(self._db)
        self.api_keys = ApiKeyRepository(self._db)
        self.integrations = IntegrationRepository(self._db)
        self.credentials = CredentialRepository(self._db)
        self.oauth_states = OAuthStateRepository(self._db)

    @classmethod
    def open(cls, url: str | None, db_name: str) -> Store:
        """Connect to ``url`` (or the embedded in-memory store when it is empty)."""
        client, embedded = connect(url)
        return cls(client, db_name, embedded=embedded)

    async def ensure_indexes(self) -> None:
        """Create every index Vigil relies on (idempotent)."""
        repositories = (
            self.organizations,
            self.api_keys,
            self.integrations,
            self.credentials,
            self.oauth_states,
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
