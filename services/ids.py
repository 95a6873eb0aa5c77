"""Identifiers of stored objects: opaque, URL-safe, with a prefix naming the kind."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """An opaque, URL-safe identifier such as ``org_3fA…``."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"
