"""GraphQL over HTTP and WebSocket with the ``gql`` client: the path a frontend takes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport


async def gql_http(
    url: str,
    key: str,
    query: str,
    variables: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> Any:
    """Run one query or mutation over HTTP POST and return ``data`` (``timeout`` in seconds
    overrides the client's default for a query whose work is known to be large)."""
    extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    transport = HTTPXAsyncTransport(url=url, headers={"Authorization": f"Bearer {key}"}, **extra)
    limit: dict[str, Any] = {} if timeout is None else {"execute_timeout": timeout}
    async with Client(transport=transport, fetch_schema_from_transport=False, **limit) as session:
        return await session.execute(GraphQLRequest(query, variable_values=variables))


@asynccontextmanager
async def gql_ws(url: str, key: str | None) -> AsyncIterator[Any]:
    """A ``graphql-transport-ws`` session authenticated in ``connection_init``."""
    payload = {"authorization": f"Bearer {key}"} if key is not None else {}
    transport = WebsocketsTransport(
        url=url,
        init_payload=payload,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        yield session


def failing_items(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a ``failingItems { edges { node { … } } }`` page of a check result."""
    return [edge["node"] for edge in result["failingItems"]["edges"]]
