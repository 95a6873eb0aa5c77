"""GraphQL errors carry ``extensions.code`` by the kind of domain error (docs/api.md)."""

from __future__ import annotations

from graphql import GraphQLError

from resolvers.errors import error_code, field_path
from services.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed


def test_domain_errors_map_to_codes_by_kind() -> None:
    def code(exc: Exception) -> str:
        return error_code(GraphQLError("x", original_error=exc))

    assert code(NotFound("gone")) == "NOT_FOUND"
    assert code(Forbidden("no", code="UNAUTHENTICATED")) == "UNAUTHENTICATED"
    assert code(Forbidden("no")) == "FORBIDDEN"
    assert code(Conflict("busy", code="NOT_CONNECTED")) == "CONFLICT"
    assert code(ValidationFailed("bad")) == "BAD_USER_INPUT"
    assert code(DomainError("odd", code="SOMETHING")) == "BAD_USER_INPUT"


def test_user_error_paths_start_at_an_argument() -> None:
    assert field_path(["email"], ["input"]) == ["input", "email"]
    assert field_path(["input", "email"], ["input"]) == ["input", "email"]
    assert field_path(["integrationId"], ["id"]) == ["id"]
    assert field_path(["input", "accountId"], ["accountId"]) == ["accountId"]
    assert field_path(["integrationId"], ["integrationId"]) == ["integrationId"]
    assert field_path(["input", "1", "offboarded_at"], ["input"]) == ["input", "1", "offboardedAt"]
    assert field_path(None, ["input"]) is None
