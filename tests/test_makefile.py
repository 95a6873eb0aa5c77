"""The Makefile's two entry points: `make demo` installs only what running needs and honours
the port; `make test` installs the dev tools (checked with `make -n`, nothing is run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make here")


def _make(*args: str) -> str:
    # Under `make test` this runs inside make: a clean environment, so no "make[1]: ..." lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _dry_run(*args: str) -> list[str]:
    return [line.rstrip() for line in _make("-n", "-B", *args).splitlines()]


def test_demo_installs_the_package_alone_and_honours_port() -> None:
    lines = _dry_run("demo", "PORT=18000")
    installs = [line for line in lines if "pip install" in line]
    assert len(installs) == 1 and "-e ." in installs[0] and "[dev]" not in installs[0]
    assert lines[-1].endswith("vigil demo --port 18000")
    # Without PORT, `vigil demo` reads VIGIL_PORT itself.
    assert _dry_run("demo")[-1].endswith("vigil demo")


def test_test_installs_the_dev_tools() -> None:
    lines = _dry_run("test")
    assert any("pip install" in line and "'.[dev]'" in line for line in lines)
    assert any(line.endswith("pytest -q -n 2") for line in lines)
    assert any(line.endswith("lint-imports") for line in lines)


def _scripts(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := re.search(r"bench/(\w+)\.py", line))}


def test_bench_runs_every_measure_at_full_size_and_ci_runs_the_quick_version() -> None:
    full, quick = _dry_run("bench"), _dry_run("bench-quick")
    assert {"sync_wall", "fanout", "reads"} <= _scripts(quick) <= _scripts(full)
    assert any("bench/fanout.py --subscribers 1000" in line for line in full)
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert steps.index("make test") < steps.index("make bench-quick")


def test_ci_runs_the_suite_against_the_newest_and_the_oldest_pinned_libraries() -> None:
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert steps.index("make test") < steps.index("make test-newest")
    assert steps.index("make test-newest") < steps.index("make test-oldest")
    assert steps.index("make test-oldest") < steps.index("make bench-quick")
    pinned = ("strawberry-graphql", "starlette", "graphql-core", "uvicorn")
    newest = _dry_run("test-newest")
    [upgrade] = [line for line in newest if "pip install" in line]
    assert "-U" in upgrade.split() and "'.[dev]'" in upgrade and all(p in upgrade for p in pinned)
    assert newest[-1] == ".venv-newest/bin/pytest -q -n 2"
    oldest = _dry_run("test-oldest")
    [install] = [line for line in oldest if "pip install" in line]
    assert ".ci/lowest_pins.py" in install and all(p in install for p in pinned)
    assert oldest[-1] == ".venv-oldest/bin/pytest -q -n 2"


def test_the_oldest_pins_are_the_lower_bounds_of_pyproject() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "lowest_pins.py"), "strawberry-graphql", "uvicorn"],
        capture_output=True,
        text=True,
        check=True,
    )
    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    expected = []
    for name in ("strawberry-graphql", "uvicorn"):
        [requirement] = [r for r in requirements if re.match(rf"{name}(\[|>)", r)]
        lower = re.search(r">=([0-9][\w.]*)", requirement)
        assert lower is not None, requirement
        expected.append(f"{name}=={lower[1]}")
    assert done.stdout.split() == expected
    missing = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "lowest_pins.py"), "no-such-package"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "no-such-package" in missing.stderr


def test_test_builds_and_tests_the_console_before_pytest_when_node_is_there() -> None:
    lines = _dry_run("test", "NODE_OK=yes")
    steps = [line.strip() for line in lines]
    npm = [s for s in steps if s.startswith("cd console && npm")]
    assert npm == [
        "cd console && npm ci --no-audit --no-fund",
        "cd console && npm run build",
        "cd console && npm test",
    ]
    assert steps.index(npm[-1]) < next(
        i for i, s in enumerate(steps) if s.endswith("pytest -q -n 2")
    )
    # The build generates the typed operations from schema.graphql and type-checks them.
    package = (ROOT / "console" / "package.json").read_text()
    assert "graphql-codegen" in package and "tsc --noEmit" in package


def test_without_node_the_console_is_skipped_in_one_line() -> None:
    for target in ("test", "demo", "run"):
        lines = _dry_run(target, "NODE_OK=")
        assert not any("npm" in line for line in lines if not line.startswith("echo")), target
        assert any("needs Node.js 20.19+" in line for line in lines), target
    assert _dry_run("demo", "NODE_OK=yes")[-2].endswith("npm run build")


def _browser(chromium: Path, apt_get: str) -> str:
    return _make("browser", f"CHROMIUM={chromium}", f"APT_GET={apt_get}")


def test_make_test_installs_debians_chromium_only_when_missing(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    apt = tmp_path / "apt-get"
    apt.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    apt.chmod(0o755)
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        pytest.skip("not root and no sudo: the recipe would call sudo")
    missing = tmp_path / "no-chromium"
    assert "Installing Debian's chromium" in _browser(missing, str(apt))
    assert calls.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]
    calls.unlink()
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    present.chmod(0o755)
    assert _browser(present, str(apt)) == "" and not calls.exists()
    skipped = _browser(missing, str(tmp_path / "no-apt-get"))
    assert skipped.startswith("Browser tests skipped: no ") and not calls.exists()
    # `make test` runs it before the suite
    test_rule = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("test:")
    )
    assert test_rule.split()[1:].index("browser") < test_rule.split()[1:].index("pytest")


def test_ci_installs_chromium_before_the_tests_and_fails_without_it() -> None:
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    install = steps.index("make browser")
    required = next(i for i, s in enumerate(steps) if s.startswith("test -x /usr/bin/chromium ||"))
    assert install < required < steps.index("make test")
