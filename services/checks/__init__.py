"""Checks: results (``models``), the protocol (``base``), the registry, the engine, the checks."""
