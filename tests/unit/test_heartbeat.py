"""The worker heartbeat file and the health check that reads its age."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api import heartbeat
from api.heartbeat import Heartbeat


def test_a_beat_records_ticks_and_time(tmp_path: Path) -> None:
    path = tmp_path / "run" / "worker.heartbeat"
    Heartbeat(path).beat(3)
    beat = heartbeat.read(path)
    assert beat is not None and beat["ticks"] == 3 and beat["pid"] == os.getpid()
    age = heartbeat.age_seconds(path)
    assert age is not None and 0 <= age < 60
    assert [p.name for p in path.parent.iterdir()] == ["worker.heartbeat"]  # no partial left


def test_health_check_passes_fresh_and_fails_missing_or_stale(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    assert heartbeat.main([str(path), "60"]) == 1  # missing
    Heartbeat(path).beat(1)
    assert heartbeat.main([str(path), "60"]) == 0
    old = datetime.now(UTC) - timedelta(minutes=5)
    path.write_text(json.dumps({"pid": 1, "ticks": 1, "at": old.isoformat()}))
    assert heartbeat.main([str(path), "60"]) == 1
    path.write_text("not json")
    assert heartbeat.main([str(path), "60"]) == 1
    assert heartbeat.main([str(path)]) == 2
    assert heartbeat.main([str(path), "soon"]) == 2


def test_health_check_runs_as_a_module(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    command = [sys.executable, "-m", "api.heartbeat", str(path), "60"]
    missing = subprocess.run(command, capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and "no heartbeat" in missing.stderr
    Heartbeat(path).beat(7)
    assert subprocess.run(command, check=False).returncode == 0
