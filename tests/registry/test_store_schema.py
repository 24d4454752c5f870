"""A store stamped by a newer MLflow (e.g. the skinny 3.18.0 that raylane installed before its pin)
stops every registry command with a clear message, not MLflow's traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

NEWER_REVISION = "feedfacecafe"  # no MLflow release knows it


def test_a_store_from_a_newer_mlflow_is_a_clear_error(tmp_path):
    env = {**os.environ, "RAYLANE_HOME": str(tmp_path / "home")}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "framework.cli", "models", "list"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]  # raylane writes the store at its own schema revision
    with sqlite3.connect(tmp_path / "home" / "mlflow" / "mlflow.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (NEWER_REVISION,))
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "written by a newer MLflow than the installed" in again.stderr and NEWER_REVISION in again.stderr
