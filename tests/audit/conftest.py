"""One demo package for the audit tests (built once: it runs a sync against the simulator)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.audit.support import DemoPackage, make_demo_package


@pytest.fixture(scope="session")
def demo_package() -> DemoPackage:
    return asyncio.run(make_demo_package())  # a loop of its own: sync fixture, no loop running


@pytest.fixture
def key_file(demo_package: DemoPackage, tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_bytes(demo_package.public_pem)
    return path
