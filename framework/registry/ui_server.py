"""The MLflow UI on raylane's registry: MLflow's own server, started on the store and artifact root
that `framework.registry.store` decides for every other part of raylane, so the UI shows what
raylane wrote. When `MLFLOW_TRACKING_URI` names an MLflow server, that server already has the UI.

The server runs in its own process group, so stopping it (Ctrl-C, SIGTERM) ends its workers too.

Example:
    >>> ui_target().backend_store_uri                        # doctest: +SKIP
    'sqlite:////home/me/.raylane/mlflow/mlflow.db'
    >>> serve_ui("127.0.0.1", 5000)                          # doctest: +SKIP  (blocks until Ctrl-C)
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlparse

from framework.errors import ConfigError, RaylaneError
from framework.registry.schema import schema_advice
from framework.registry.store import artifact_root, tracking_uri

__all__ = ["UiTarget", "require_server", "schema_advice", "serve_ui", "server_command", "ui_target"]

_READY_TIMEOUT_S = 120.0  # the server imports all of MLflow first: seconds on a small machine
_STOP_GRACE_S = 15.0


@dataclass(frozen=True)
class UiTarget:
    """What `raylane ui` opens: raylane's tracking and registry store, and where its artifacts lie.
    `remote` when the store is an MLflow server (it serves its own UI)."""

    backend_store_uri: str
    artifact_root: str | None
    remote: bool


def ui_target() -> UiTarget:
    uri = tracking_uri()
    remote = urlparse(uri).scheme in ("http", "https") or uri.startswith("databricks")
    return UiTarget(uri, None if remote else artifact_root(), remote)


def require_server() -> str:
    """The installed MLflow server's version; a ConfigError saying what to install when it is missing.

    The server must be the release of the client (mlflow-skinny) that writes the store: each release
    refuses a store stamped with a newer schema revision than its own."""
    from importlib import metadata

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    client, server = installed("mlflow-skinny"), installed("mlflow")
    wanted = f"pip install 'mlflow=={client}'" if client else "pip install mlflow"
    if server is None:
        raise ConfigError("raylane ui needs the MLflow server, which mlflow-skinny does not include: install raylane's "
                          f"`ui` extra (pip install -e '.[ui]' in the raylane checkout), or {wanted}")
    if client and client != server:
        raise ConfigError(f"the MLflow server (mlflow {server}) is not the release of raylane's client (mlflow-skinny "
                          f"{client}), and a server refuses a store written by a newer release: {wanted}")
    return server


def server_command(target: UiTarget, host: str, port: int) -> list[str]:
    """`mlflow server` on the target's store. Runs raylane logged keep their local artifact paths;
    experiments created through the UI get the same artifact root."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", target.backend_store_uri,
               "--registry-store-uri", target.backend_store_uri, "--host", host, "--port", str(port),
               "--workers", "1"]  # one person browsing; each worker is a full MLflow process
    if target.artifact_root:
        command += ["--default-artifact-root", target.artifact_root, "--artifacts-destination", target.artifact_root]
    return command


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    # MLflow's job runner (GenAI evaluation jobs) is a second long-lived process raylane never uses.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return env


class _ServerOutput:
    """The server's output: kept (the last lines) until it is ready, then passed through to stderr."""

    def __init__(self, stream):
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.passthrough = False
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.append(line)
            if self.passthrough:
                sys.stderr.write(line)
                sys.stderr.flush()

    def text(self, timeout_s: float = 2.0) -> str:
        self._thread.join(timeout_s)  # the rest of a server that just exited
        return "".join(self.lines)


class _StopRequest:
    """Set by SIGINT (Ctrl-C) or SIGTERM; the main loop polls it."""

    def __init__(self):
        self.signal: int | None = None
        self._previous = {}

    def __enter__(self) -> "_StopRequest":
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._request)
        return self

    def _request(self, signum, frame) -> None:
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _check_port_free(host: str, port: int) -> None:
    family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as error:
            raise ConfigError(f"raylane ui: cannot listen on {host}:{port} ({error.strerror}); pass another --port") from None


def _url(host: str, port: int) -> str:
    reachable = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{reachable}]:{port}" if ":" in reachable else f"http://{reachable}:{port}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
        return True
    except ProcessLookupError:
        return False


def _stop_server(server: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group, SIGKILL to whatever outlives the grace period."""
    _signal_group(server.pid, signal.SIGTERM)
    try:
        server.wait(_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(server.pid, signal.SIGKILL)
        server.wait()
    deadline = time.monotonic() + 5
    while _signal_group(server.pid, 0) and time.monotonic() < deadline:  # workers after their parent
        time.sleep(0.1)
    _signal_group(server.pid, signal.SIGKILL)


def _failure(target: UiTarget, server: subprocess.Popen, output: _ServerOutput, version: str) -> RaylaneError:
    text = output.text()
    advice = schema_advice(target.backend_store_uri, text, version)
    if advice:
        return ConfigError(advice)
    tail = "".join(list(output.lines)[-20:]).rstrip()
    return RaylaneError(f"the MLflow server on {target.backend_store_uri} exited with code {server.returncode}:\n{tail}")


def _wait_until_ready(url: str, server: subprocess.Popen, stop: _StopRequest) -> bool:
    """True once the server answers; False when it exited or a stop was requested first."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while stop.signal is None and server.poll() is None:
        if _answers(url):
            return True
        if time.monotonic() > deadline:
            raise RaylaneError(f"the MLflow server did not answer at {url} within {_READY_TIMEOUT_S:.0f} s")
        time.sleep(0.25)
    return False


def serve_ui(host: str = "127.0.0.1", port: int = 5000) -> int:
    """Run the MLflow UI on raylane's store until Ctrl-C or SIGTERM; returns the exit status (0)."""
    target = ui_target()
    if target.remote:
        print(f"MLFLOW_TRACKING_URI points at an MLflow server, which serves the UI itself: {target.backend_store_uri}")
        return 0
    version = require_server()
    _check_port_free(host, port)
    url = _url(host, port)
    with _StopRequest() as stop:
        server = subprocess.Popen(server_command(target, host, port), env=_server_env(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        output = _ServerOutput(server.stdout)
        try:
            if _wait_until_ready(url, server, stop):
                print(f"MLflow UI (mlflow {version}) on {target.backend_store_uri}: {url}", flush=True)
                print("Ctrl-C stops it.", flush=True)
                output.passthrough = True
            while stop.signal is None and server.poll() is None:
                time.sleep(0.2)
            if stop.signal is None:
                raise _failure(target, server, output, version)
        finally:
            _stop_server(server)
    print("MLflow UI stopped.", flush=True)
    return 0
