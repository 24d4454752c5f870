"""Starting and stopping a local head node with token auth, and remembering where it is.

`start_head` runs `ray start --head --block` as its own process group, with `RAY_AUTH_MODE=token` and
`RAY_AUTH_TOKEN_PATH` pointing at raylane's token file. It waits until the dashboard answers an
authenticated request, then writes `RAYLANE_HOME/ray/head.json` so `down`, `status` and `submit` find
the head. `stop_head` sends SIGTERM to that one process (Ray then stops the node's children), and only
kills the process group if something is left: other Ray clusters on the machine are never touched.

Example:
    >>> info = start_head(HeadSpec(num_cpus=2))
    >>> info.dashboard_url
    'http://127.0.0.1:8265'
    >>> stop_head()
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from framework.cluster._errors import ClusterError
from framework.cluster.dashboard import http_status, list_nodes
from framework.cluster.spec import HeadSpec, ray_start_args
from framework.cluster.token import auth_env, ensure_auth_token, read_auth_token
from framework.config.home import raylane_home

__all__ = ["HeadInfo", "start_head", "stop_head", "read_head_info", "head_env"]

_START_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HeadInfo:
    """A running head started by raylane, as recorded in `RAYLANE_HOME/ray/head.json`."""

    pid: int
    dashboard_url: str
    gcs_address: str
    token_path: str
    log_path: str
    temp_dir: str | None


def _state_path(home: Path | None) -> Path:
    return (home or raylane_home()) / "ray" / "head.json"


def read_head_info(home: Path | None = None) -> HeadInfo | None:
    """The head recorded by the last `start_head`, or None when none was started (or it has gone)."""
    path = _state_path(home)
    if not path.is_file():
        return None
    info = HeadInfo(**json.loads(path.read_text()))
    return info if _is_our_ray_process(info.pid) else None


def _is_our_ray_process(pid: int) -> bool:
    """Guard against pid reuse: the pid must still be a `ray start --head` command."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # no /proc (macOS): ask ps
        result = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True)
        cmdline = result.stdout.split()
    return b"start" in cmdline and b"--head" in cmdline


def head_env(token_path: Path, base: dict[str, str] | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for `ray start`: token auth on, and this interpreter's bin/ first on PATH so
    job entrypoints such as `python -m jobs.train` run with raylane's Python, not the system one."""
    env = dict(os.environ if base is None else base)
    env.update(extra or {})
    env.update(auth_env(token_path))
    env.pop("RAY_AUTH_TOKEN", None)  # the file is the one source of truth for this head
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return env


def _ray_executable() -> str:
    candidate = Path(sys.executable).parent / "ray"
    return str(candidate) if candidate.exists() else "ray"


def start_head(spec: HeadSpec, home: Path | None = None, timeout_s: float = _START_TIMEOUT_S) -> HeadInfo:
    """Start a head node and wait until its Jobs API accepts the token. Raises ClusterError on failure."""
    running = read_head_info(home)
    if running:
        raise ClusterError(
            f"a head started by raylane is already running (pid {running.pid}, {running.dashboard_url}); "
            "run `raylane cluster down` first"
        )
    if http_status(f"{spec.dashboard_url}/api/version", None, timeout=2) != 0:
        raise ClusterError(f"port {spec.dashboard_port} already answers: another Ray dashboard? pick --dashboard-port")
    token_path = ensure_auth_token(home)
    token = read_auth_token(token_path)
    log_path = _state_path(home).with_name("head.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [_ray_executable(), *ray_start_args(spec)],
            env=head_env(token_path, extra=spec.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # own process group: stopping it cannot hit anything else
        )
    head_ip = _wait_until_ready(process, spec, token, log_path, timeout_s)
    info = HeadInfo(
        pid=process.pid,
        dashboard_url=spec.dashboard_url,
        gcs_address=f"{head_ip}:{spec.port}",
        token_path=str(token_path),
        log_path=str(log_path),
        temp_dir=spec.temp_dir,
    )
    _state_path(home).write_text(json.dumps(asdict(info), indent=2))
    return info


def _wait_until_ready(process: subprocess.Popen, spec: HeadSpec, token: str, log_path: Path, timeout_s: float) -> str:
    """Wait until the Jobs API accepts the token and the head node has registered; return the head's IP."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise ClusterError(f"`ray start --head` exited with code {process.returncode}; its log ends:\n{tail}")
        if http_status(f"{spec.dashboard_url}/api/jobs/", token) == 200:
            heads = [node for node in list_nodes(spec.dashboard_url, token) if node.is_head and node.state == "ALIVE"]
            if heads:
                return heads[0].ip
        time.sleep(0.5)
    _terminate_group(process.pid)
    raise ClusterError(f"the head did not answer on {spec.dashboard_url} within {timeout_s:.0f} s; see {log_path}")


def stop_head(home: Path | None = None, timeout_s: float = _STOP_TIMEOUT_S) -> HeadInfo:
    """Stop the head recorded in `RAYLANE_HOME/ray/head.json`. Raises ClusterError when there is none."""
    state = _state_path(home)
    info = read_head_info(home)
    if info is None:
        state.unlink(missing_ok=True)
        raise ClusterError("no head started by raylane is running (see `raylane cluster status`)")
    _terminate_group(info.pid, timeout_s)
    state.unlink(missing_ok=True)
    _forget_current_cluster(info.gcs_address)
    return info


def _forget_current_cluster(gcs_address: str) -> None:
    """`ray start` records its address in /tmp/ray/ray_current_cluster and only `ray stop` removes it.
    A stale record makes later address-less Ray clients wait for a GCS that is gone."""
    record = Path("/tmp/ray/ray_current_cluster")
    try:
        if record.read_text().strip() == gcs_address:
            record.unlink()
    except OSError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate_group(pid: int, timeout_s: float = _STOP_TIMEOUT_S) -> None:
    """SIGTERM the `ray start --block` process; SIGKILL its process group if anything outlives it."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _group_alive(pid):
        _reap(pid)
        time.sleep(0.25)
    if _group_alive(pid):
        os.killpg(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status when the head is our child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
