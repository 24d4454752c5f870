"""A real Ray head node on loopback with token auth, started once for the cluster tests.

Package-scoped: it stops when tests/cluster is done, so it never overlaps the in-process cluster that
later test packages start (two Ray clusters on one machine make Ray's auto-detection complain).
It runs as separate processes (`ray start --head --block`) with its own free ports, its own temp dir
and its own RAYLANE_HOME, so it never meets the in-process cluster of tests/conftest.py. Jobs are
submitted from subprocesses, exactly as a user would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SLOT = "trainer_slot"  # custom resource: one per node, so a 2-worker run must use both nodes
# A lost node is declared dead after ~3 s instead of ~30 s, and a worker group that cannot start is
# retried (smaller, when elastic) after 10 s instead of 60 s: the node-loss test then fits the budget.
FAST_RECOVERY = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "10",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Head:
    url: str
    gcs_address: str
    token: str
    token_path: Path
    home: Path
    temp_dir: str

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a subprocess client: this head's RAYLANE_HOME, no stray Ray settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_API_SERVER", "RAY_AUTH"))}
        env.update(RAYLANE_HOME=str(self.home), PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
        env.update(extra)
        return env


@pytest.fixture(scope="package")
def ray_head(tmp_path_factory):
    from framework.cluster import HeadSpec, read_auth_token, start_head, stop_head

    home = tmp_path_factory.mktemp("raylane_home")
    temp_dir = tempfile.mkdtemp(prefix="rl", dir="/tmp")  # short: Ray's unix socket paths are length-limited
    spec = HeadSpec(
        port=free_port(),
        dashboard_port=free_port(),
        client_port=free_port(),
        agent_port=free_port(),
        num_cpus=2,
        resources={SLOT: 1},
        object_store_memory=512 * 2**20,
        temp_dir=temp_dir,
        env=FAST_RECOVERY,
    )
    info = start_head(spec, home=home)
    token_path = Path(info.token_path)
    try:
        yield Head(info.dashboard_url, info.gcs_address, read_auth_token(token_path), token_path, home, temp_dir)
    finally:
        stop_head(home, timeout_s=8)  # after jobs ran, Ray alone takes ~30 s to wind down; tests need not wait
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="package")
def train_data(tmp_path_factory):
    """Small train/valid Parquet with contracts, at absolute paths the cluster's job can read."""
    from framework.data.generate import GenerateRequest, write_synthetic_dataset

    root = tmp_path_factory.mktemp("cluster_data")
    write_synthetic_dataset(root / "train", GenerateRequest(rows=8000, seed=1, files_per_day=2))
    write_synthetic_dataset(root / "valid", GenerateRequest(rows=2000, seed=2, files_per_day=2))
    return root


def train_overrides(data: Path, runs: Path, name: str, *extra: str) -> list[str]:
    return [
        f"data.train={data}/train/*.parquet",
        f"data.valid={data}/valid/*.parquet",
        f"data.contract={data}/train/contract.yaml",
        f"run.storage_path={runs}",
        f"run.name={name}",
        "optim.epochs=1",
        "optim.batch_size=512",
        *extra,
    ]


def bundle_from(output: str) -> Path:
    """The training job prints `bundle: <path>` as its last line."""
    lines = [line for line in output.splitlines() if line.startswith("bundle: ")]
    assert lines, f"no `bundle:` line in the job output:\n{output[-4000:]}"
    return Path(lines[-1].split("bundle: ", 1)[1].strip())


def raylane(head: Head, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the `raylane` CLI in a subprocess, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "framework.cli", *args],
        cwd=REPO,
        env=head.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class WorkerNode:
    process: subprocess.Popen
    node_id: str

    def kill(self) -> None:
        """Lose the node the hard way: SIGKILL its raylet, workers and agents at once."""
        os.killpg(self.process.pid, 9)
        self.process.wait(timeout=30)


@pytest.fixture()
def second_node(ray_head):
    """A second node on this machine joining the head, with 1 CPU and one `trainer_slot`."""
    from framework.cluster import head_env, list_nodes

    before = {node.node_id for node in list_nodes(ray_head.url, ray_head.token)}
    temp_dir = tempfile.mkdtemp(prefix="rl", dir="/tmp")
    command = [
        str(Path(sys.executable).parent / "ray"), "start", "--block",
        f"--address={ray_head.gcs_address}",
        "--num-cpus=1", f'--resources={{"{SLOT}": 1}}',
        f"--dashboard-agent-listen-port={free_port()}",
        "--object-store-memory=268435456",
        f"--temp-dir={temp_dir}",  # its own, as on a real machine: nodes must not share runtime_resources/
        "--disable-usage-stats",
    ]  # fmt: skip
    log = open(ray_head.home / "second_node.log", "wb")
    process = subprocess.Popen(
        command, env=head_env(ray_head.token_path), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 90
    new: list[str] = []
    while time.monotonic() < deadline and not new:
        assert process.poll() is None, (ray_head.home / "second_node.log").read_text()[-3000:]
        new = [n.node_id for n in list_nodes(ray_head.url, ray_head.token) if n.node_id not in before and n.state == "ALIVE"]
        time.sleep(1)
    assert new, "the second node did not join within 90 s"
    node = WorkerNode(process, new[0])
    yield node
    if process.poll() is None:
        node.kill()
    log.close()
    shutil.rmtree(temp_dir, ignore_errors=True)
