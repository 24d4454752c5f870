"""`raylane cluster status`: each node's workload classes and what runs on it, from fake state-API records."""

from __future__ import annotations

import pytest

from framework.cli import main
from framework.cli.cluster import node_lines
from framework.cluster import NodeSummary

HEAD = NodeSummary("a" * 16, "10.0.0.1", True, "ALIVE", {"CPU": 4.0}, {})
TRAINER = NodeSummary(
    "b" * 16, "10.0.0.2", False, "ALIVE", {"CPU": 8.0, "GPU": 1.0, "raylane_workload_train": 1000.0},
    {"raylane.io/workload-train": "true", "raylane.io/workload-sweep": "true"},
)  # fmt: skip
SERVER = NodeSummary("c" * 16, "10.0.0.3", False, "ALIVE", {"CPU": 2.0, "raylane_workload_serve": 1000.0}, {})
GONE = NodeSummary("d" * 16, "10.0.0.4", False, "DEAD", {"CPU": 2.0}, {"raylane.io/workload-score": "true"})


def _actors(node: NodeSummary, *class_names: str) -> list[dict]:
    return [{"node_id": node.node_id, "class_name": name, "state": "ALIVE"} for name in class_names]


def test_each_node_shows_its_classes_and_its_actors_by_class():
    actors = _actors(TRAINER, "RayTrainWorker", "ServeReplica:app:Model", "RayTrainWorker") + _actors(HEAD, "JobSupervisor")
    assert node_lines([HEAD, TRAINER, SERVER, GONE], actors) == [
        "nodes: 3 alive, 1 dead",
        "  aaaaaaaaaaaa 10.0.0.1        head   ALIVE CPU 4",
        "    classes: none (declares no workload class)",
        "    running: JobSupervisor x1",
        "  bbbbbbbbbbbb 10.0.0.2        worker ALIVE CPU 8, GPU 1",  # the class resources show as classes
        "    classes: train, sweep",
        "    running: RayTrainWorker x2, ServeReplica:app:Model x1",
        "  cccccccccccc 10.0.0.3        worker ALIVE CPU 2",
        "    classes: serve",  # declared by its resource alone (a node started by hand)
        "    running: no actors",
        "  dddddddddddd 10.0.0.4        worker DEAD  CPU 2",
        "    classes: score",
    ]


def test_a_cluster_without_classes_says_any_once():
    lines = node_lines([HEAD, GONE], _actors(HEAD, "ServeController"))
    assert lines == [
        "nodes: 1 alive, 1 dead",
        "classes: any (no node declares workload classes)",  # only dead nodes declare: nothing is constrained
        "  aaaaaaaaaaaa 10.0.0.1        head   ALIVE CPU 4",
        "    running: ServeController x1",
        "  dddddddddddd 10.0.0.4        worker DEAD  CPU 2",
    ]


@pytest.fixture()
def fake_dashboard(monkeypatch, raylane_home):
    import framework.cluster as cluster

    class Jobs:
        def list_jobs(self):
            return []

    seen = []
    monkeypatch.setattr(cluster, "list_nodes", lambda address, token: seen.append(address) or [HEAD, TRAINER])
    monkeypatch.setattr(cluster, "list_alive_actors", lambda address, token: _actors(TRAINER, "RayTrainWorker"))
    monkeypatch.setattr(cluster, "cluster_usage", lambda address, token: "(usage)")
    monkeypatch.setattr(cluster, "jobs_client", lambda address, token: Jobs())
    return seen


def test_status_command_prints_the_node_lines(fake_dashboard, capsys):
    assert main(["cluster", "status", "--address", "http://10.0.0.1:8265"]) == 0
    out = capsys.readouterr().out
    assert fake_dashboard == ["http://10.0.0.1:8265"]
    assert "    classes: train, sweep\n    running: RayTrainWorker x1\n" in out
    assert "    classes: none (declares no workload class)\n    running: no actors\n" in out
    assert out.endswith("(usage)\njobs running or pending: 0\n")


@pytest.mark.slow
def test_a_node_joined_with_the_printed_flags_accepts_its_classes(ray_head):
    """Against the real head (conftest.py): a node started with `worker_start_args(["serve"])` carries the
    label and the resource, `cluster status` shows its class, and framework.workload reads `ray.nodes()`."""
    import json
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    from framework.cluster import head_env, list_nodes, worker_start_args
    from framework.workload import WorkloadUnplaceable, resolve_placement
    from tests.cluster.conftest import free_port, raylane

    temp_dir = Path(tempfile.mkdtemp(prefix="rl", dir="/tmp"))  # short: Ray's socket paths are length-limited
    before = {node.node_id for node in list_nodes(ray_head.url, ray_head.token)}
    command = [str(Path(sys.executable).parent / "ray"), "start", "--block", f"--address={ray_head.gcs_address}",
               "--num-cpus=0", *worker_start_args(["serve"]), f"--dashboard-agent-listen-port={free_port()}",
               "--object-store-memory=100000000", f"--temp-dir={temp_dir}", "--disable-usage-stats"]  # fmt: skip
    with open(temp_dir / "node.log", "wb") as log:
        process = subprocess.Popen(command, env=head_env(ray_head.token_path), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    try:
        deadline, joined = time.monotonic() + 90, []
        while not joined:
            assert process.poll() is None and time.monotonic() < deadline, (temp_dir / "node.log").read_text()[-3000:]
            joined = [n for n in list_nodes(ray_head.url, ray_head.token) if n.node_id not in before and n.state == "ALIVE"]
            time.sleep(1)
        assert joined[0].labels.get("raylane.io/workload-serve") == "true"
        assert joined[0].workload_classes == ("serve",)

        status = raylane(ray_head, "cluster", "status", "--address", ray_head.url, timeout=60)
        assert status.returncode == 0, status.stderr
        assert "    classes: serve\n" in status.stdout and "    classes: none (declares no workload class)" in status.stdout

        script = "import json, ray; ray.init(); print(json.dumps([n for n in ray.nodes() if n['Alive']]))"
        env = head_env(ray_head.token_path, base=ray_head.env(RAY_ADDRESS=ray_head.gcs_address))
        listed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0, listed.stderr[-3000:]
        nodes = json.loads(listed.stdout.strip().splitlines()[-1])
        assert resolve_placement("serve", nodes, ceiling={}).constrained
        with pytest.raises(WorkloadUnplaceable, match="'train'"):
            resolve_placement("train", nodes, ceiling={})
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)
