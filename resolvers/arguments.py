"""Arguments that fields of several resolvers take, each described once."""

from __future__ import annotations

from typing import Annotated

import strawberry

CheckId = Annotated[strawberry.ID, strawberry.argument(description="The check id.")]
AccountId = Annotated[strawberry.ID, strawberry.argument(description="The Atlassian account id.")]
