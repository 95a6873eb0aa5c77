"""verify_bundle.py in a fresh virtual environment holding only `cryptography` (and what it
needs: cffi, pycparser), run against the demo package: it must not need Vigil."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.audit.support import DemoPackage

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("cryptography", "cffi", "pycparser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # as tests/console


def _install(name: str, site: Path) -> None:
    """Install a distribution as pip would have: copy its files (this machine's wheel)."""
    dist = importlib.metadata.distribution(name)
    for file in dist.files or ():
        source = Path(str(dist.locate_file(file)))
        if source.is_file() and ".." not in file.parts:
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_the_verifier_runs_with_only_cryptography(
    demo_package: DemoPackage, key_file: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = sysconfig.get_path("purelib", vars={"base": str(env_dir)})
    site = Path(purelib)
    for name in NEEDED:
        _install(name, site)
    workdir = tmp_path / "auditor"  # the verifier alone, away from the repository
    workdir.mkdir()
    shutil.copy(ROOT / "verify_bundle.py", workdir)
    bundle = workdir / "bundle.zip"
    bundle.write_bytes(demo_package.zip_bytes)
    listed = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps([d.metadata['Name'].lower() for d in m.distributions()]))",
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=60,
        check=True,
    )
    assert set(json.loads(listed.stdout)) <= set(NEEDED)
    isolated = subprocess.run(
        [python, "-I", "-c", "import api"], capture_output=True, cwd=workdir, timeout=60
    )
    assert isolated.returncode != 0  # Vigil cannot be imported there

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, "-I", "verify_bundle.py", "bundle.zip", "--public-key", str(key_file)],
            capture_output=True,
            text=True,
            cwd=workdir,
            timeout=60,
        )

    ok = verify()
    assert ok.returncode == 0 and ok.stdout.startswith("OK: "), ok.stdout + ok.stderr
    data = bytearray(demo_package.zip_bytes)
    bundle.write_bytes(bytes(data[: len(data) - 100]))
    bad = verify()
    assert bad.returncode == 1 and bad.stdout.startswith("FAIL: "), bad.stdout + bad.stderr
    assert sys.version_info >= (3, 11)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_report_opens_in_headless_chromium_offline(
    demo_package: DemoPackage, tmp_path: Path
) -> None:
    """report.html renders with no network (every proxy request fails) and no script."""
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(demo_package.zip_bytes)) as z:
        (tmp_path / "report.html").write_bytes(z.read("report.html"))
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-javascript",
            "--proxy-server=127.0.0.1:9",
            "--window-size=900,800",
            f"--screenshot={shot}",
            (tmp_path / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
