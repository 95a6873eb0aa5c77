"""Checks: the protocol (``base``), the registry, the engine and the access checks."""
