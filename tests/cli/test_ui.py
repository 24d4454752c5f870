"""`raylane ui`: MLflow's server on the store raylane's registry wrote, its REST API and home page,
a clean stop, stores of other schema revisions, and the messages without the `ui` extra."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from framework.cli import main

MODEL = "ctr-ui"
NEWER_REVISION = "f4a9b2c7d1e6"  # what mlflow-skinny 3.18.0 stamps on a store; 3.17 does not know it


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _server_processes(port: int) -> list[str]:
    """Command lines of processes still serving `port` (the MLflow server and its uvicorn worker)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--port" in args and str(port).encode() in args and any(b"mlflow" in a or b"uvicorn" in a for a in args):
            found.append(b" ".join(args).decode(errors="replace"))
    return found


def _fake_bundle(directory: Path) -> Path:
    """The files `register_trained_bundle` reads: a manifest, metrics, lineage, and a model card."""
    directory.mkdir(parents=True)
    (directory / "model.json").write_text('{"format": "raylane-bundle", "weights": []}')
    (directory / "metrics.json").write_text('{"auc": 0.71, "logloss": 0.45}')
    (directory / "lineage.json").write_text('{"seed": 0, "config_hash": "c0ffee", "data": {}}')
    (directory / "model_card.md").write_text("# Model card: ctr-ui\n\n## Intended use\n\nTests.\n")
    return directory


@pytest.fixture()
def store(raylane_home, tmp_path, monkeypatch):
    """A RAYLANE_HOME whose registry (raylane's own code) holds MODEL version 1, aliases candidate and prod."""
    from framework.registry import register_trained_bundle, set_alias

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RAYLANE_AUDIT_LOG", raising=False)
    registered = register_trained_bundle(MODEL, _fake_bundle(tmp_path / "bundle"), config={"optim": {"lr": 0.01}})
    set_alias(MODEL, "prod", registered.version)
    return {"home": raylane_home, "run_id": registered.run_id, "db": raylane_home / "mlflow" / "mlflow.db"}


def _ui(store, port: int) -> subprocess.Popen:
    env = {**os.environ, "RAYLANE_HOME": str(store["home"])}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen([sys.executable, "-m", "framework.cli", "ui", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_ready(ui: subprocess.Popen, url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert ui.poll() is None, f"raylane ui exited {ui.returncode}: {ui.communicate()}"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    ui.kill()
    pytest.fail(f"raylane ui did not answer at {url} within {timeout_s} s")


def _stop(ui: subprocess.Popen, signum: int, port: int) -> tuple[str, str]:
    ui.send_signal(signum)
    out, err = ui.communicate(timeout=60)
    assert ui.returncode == 0, (out, err)
    assert "Traceback" not in err
    assert _port_is_free(port) and not _server_processes(port), _server_processes(port)
    return out, err


def _schema_revision(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]


@pytest.mark.slow
def test_ui_serves_the_registry_raylane_wrote_and_stops_cleanly_on_sigterm(store):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    ui = _ui(store, port)
    try:
        _wait_ready(ui, url)
        model = httpx.get(f"{url}/api/2.0/mlflow/registered-models/get", params={"name": MODEL}).json()["registered_model"]
        assert [v["version"] for v in model["latest_versions"]] == ["1"]
        assert {a["alias"]: a["version"] for a in model["aliases"]} == {"candidate": "1", "prod": "1"}
        prod = httpx.get(f"{url}/api/2.0/mlflow/registered-models/alias", params={"name": MODEL, "alias": "prod"}).json()
        assert prod["model_version"]["version"] == "1" and prod["model_version"]["run_id"] == store["run_id"]
        # the run's artifacts are local paths under $RAYLANE_HOME/mlflow/artifacts: the UI reads them in place
        listing = httpx.get(f"{url}/ajax-api/2.0/mlflow/artifacts/list", params={"run_uuid": store["run_id"], "path": "bundle"})
        assert "bundle/model_card.md" in {f["path"] for f in listing.json()["files"]}
        card = httpx.get(f"{url}/get-artifact", params={"run_uuid": store["run_id"], "path": "bundle/model_card.md"})
        assert card.status_code == 200 and card.text.startswith("# Model card: ctr-ui")
        home = httpx.get(f"{url}/")
        assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    finally:
        if ui.poll() is None:
            out, _ = _stop(ui, signal.SIGTERM, port)
    assert f"{url}" in out and f"sqlite:///{store['db']}" in out and "stopped" in out


@pytest.mark.slow
def test_a_store_one_schema_revision_older_opens_upgraded_and_ctrl_c_stops_the_ui(store):
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config, _get_latest_schema_revision

    uri = f"sqlite:///{store['db']}"
    command.downgrade(_get_alembic_config(uri), "-1")  # as an older MLflow (an older raylane) left it
    assert _schema_revision(store["db"]) != _get_latest_schema_revision()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    ui = _ui(store, port)
    try:
        _wait_ready(ui, url)
        prod = httpx.get(f"{url}/api/2.0/mlflow/registered-models/alias", params={"name": MODEL, "alias": "prod"}).json()
        assert prod["model_version"]["version"] == "1"
    finally:
        if ui.poll() is None:
            _stop(ui, signal.SIGINT, port)
    assert _schema_revision(store["db"]) == _get_latest_schema_revision()


@pytest.mark.slow
def test_a_store_written_by_a_newer_mlflow_is_refused_with_a_clear_message(store):
    with sqlite3.connect(store["db"]) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (NEWER_REVISION,))
    port = _free_port()
    ui = _ui(store, port)
    out, err = ui.communicate(timeout=180)
    assert ui.returncode == 2 and "Traceback" not in err
    assert "written by a newer MLflow than the installed" in err and NEWER_REVISION in err
    assert _port_is_free(port) and not _server_processes(port)


def test_an_older_schema_message_gives_the_backup_and_upgrade_commands(tmp_path):
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config, _get_latest_schema_revision

    from framework.registry.ui_server import schema_advice

    head = _get_latest_schema_revision()
    older = ScriptDirectory.from_config(_get_alembic_config("")).get_revision(head).down_revision
    db = tmp_path / "mlflow.db"
    output = f"mlflow.exceptions.MlflowException: Detected out-of-date database schema (found version {older}, but expected {head})."
    advice = schema_advice(f"sqlite:///{db}", output, "3.17.2")
    assert f"cp '{db}' '{db}.bak'" in advice and f"mlflow db upgrade 'sqlite:///{db}'" in advice and "older MLflow" in advice
    assert schema_advice(f"sqlite:///{db}", "OSError: [Errno 98] Address already in use", "3.17.2") is None


@pytest.mark.parametrize("installed", [{"mlflow": None}, {"mlflow": "3.0.0"}], ids=["skinny-only", "other-release"])
def test_without_the_ui_extra_it_says_what_to_install(installed, raylane_home, monkeypatch, capsys):
    from importlib import metadata

    real = metadata.version

    def version(name):
        if name not in installed:
            return real(name)
        if installed[name] is None:
            raise metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(metadata, "version", version)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["ui", "--port", str(_free_port())]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'mlflow=={real('mlflow-skinny')}'" in err and "Traceback" not in err
    if installed["mlflow"] is None:
        assert "pip install -e '.[ui]'" in err


def test_a_tracking_uri_naming_an_mlflow_server_is_printed_not_served(monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.internal")
    assert main(["ui"]) == 0
    assert "https://mlflow.example.internal" in capsys.readouterr().out


def test_a_port_in_use_is_an_error_naming_it(raylane_home, monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
