"""Workload classes kept apart on a real cluster: three labeled nodes join the head (score, train,
serve); each job's work lands on its own node, and a class no node accepts fails fast.

Everything goes through the CLI as a user would (`raylane submit`, `raylane serve`); placement is read
back from the head's state API, which keeps finished jobs' dead actors with their node ids.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.conftest import REPO, bundle_from, free_port, raylane, train_overrides

pytestmark = pytest.mark.slow

CLASSES = ("score", "train", "serve")  # one worker node each; the head declares none
# Logical CPUs: a train run's capacity check reserves 1 CPU for Ray Data tasks beside its 0.5-CPU worker.
NODE_CPUS = {"score": 1, "train": 2, "serve": 1}
SCORING_ACTORS = ("MapWorker", "TaskScorer")  # Ray Data's actor pool around framework.score's TaskScorer


@dataclass(frozen=True)
class LabeledNodes:
    head_id: str
    ids: dict[str, str]  # workload class -> node id


def _join(ray_head, workload: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start `ray start --block` for a node that accepts `workload`; returns (process, temp dir)."""
    from framework.cluster import head_env, worker_start_args

    temp_dir = tempfile.mkdtemp(prefix="rl", dir="/tmp")  # short: Ray's unix socket paths are length-limited
    command = [
        str(Path(sys.executable).parent / "ray"), "start", "--block",
        f"--address={ray_head.gcs_address}",
        f"--num-cpus={NODE_CPUS[workload]}", *worker_start_args([workload]),
        f"--dashboard-agent-listen-port={free_port()}",
        "--object-store-memory=134217728",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=head_env(ray_head.token_path), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, temp_dir


def _wait_for_nodes(ray_head, wanted: set[str], state: str, timeout_s: float = 90) -> dict[str, str]:
    """Wait until the head lists a node in `state` for every class in `wanted`; class -> node id."""
    from framework.cluster import list_nodes

    deadline = time.monotonic() + timeout_s
    while True:
        nodes = [n for n in list_nodes(ray_head.url, ray_head.token) if n.state == state]
        found = {c: n.node_id for n in nodes for c in n.workload_classes if c in wanted}
        if set(found) == wanted:
            return found
        missing = sorted(wanted - set(found))
        assert time.monotonic() < deadline, f"nodes of {missing} not {state} after {timeout_s:.0f} s"
        time.sleep(1)


@pytest.fixture(scope="module")
def labeled_nodes(ray_head):
    """Three small nodes on this machine, accepting score, train and serve; gone (DEAD) at module end,
    so later tests see an unlabeled cluster again."""
    from framework.cluster import list_nodes

    head_id = next(n.node_id for n in list_nodes(ray_head.url, ray_head.token) if n.is_head and n.state == "ALIVE")
    started = {c: _join(ray_head, c, ray_head.home / f"node_{c}.log") for c in CLASSES}
    try:
        for workload, (process, _) in started.items():
            assert process.poll() is None, (ray_head.home / f"node_{workload}.log").read_text()[-3000:]
        ids = _wait_for_nodes(ray_head, set(CLASSES), "ALIVE")
        assert len(set(ids.values())) == len(CLASSES) and head_id not in ids.values()
        yield LabeledNodes(head_id, ids)
    finally:
        for process, _ in started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        _wait_for_nodes(ray_head, set(CLASSES), "DEAD", timeout_s=60)  # no live node declares a class now
        for _, temp_dir in started.values():
            shutil.rmtree(temp_dir, ignore_errors=True)


def _state(ray_head, resource: str, **filters) -> list[dict]:
    """Rows of the head's state API (`actors`, `workers`; alive and dead) matching exact `filters`."""
    from framework.cluster.dashboard import get_json

    query = "".join(f"&filter_keys={k}&filter_predicates=%3D&filter_values={v}" for k, v in filters.items())
    body = get_json(f"{ray_head.url}/api/v0/{resource}?detail=1&limit=1000{query}", ray_head.token)
    return body["data"]["result"]["result"]


def _actors(ray_head, **filters) -> list[dict]:
    return _state(ray_head, "actors", **filters)


def _nodes_of(ray_head, actors: list[dict]) -> set[str | None]:
    """The nodes `actors` ran on. An actor killed while it was still starting (Ray Data drops a pool actor
    it no longer needs) is listed without a node_id; its worker process, found by pid, names the node."""
    nodes = set()
    for actor in actors:
        node = actor["node_id"]
        if node is None and actor.get("pid"):
            found = {w["node_id"] for w in _state(ray_head, "workers", pid=actor["pid"])}
            node = found.pop() if len(found) == 1 else None
        nodes.add(node)
    return nodes


def _submit(ray_head, *args: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, str]:
    """`raylane submit ...` to the head and wait; returns the result and the Ray job id of its driver."""
    from framework.cluster import jobs_client

    result = raylane(ray_head, "submit", *args, "--address", ray_head.url, timeout=timeout)
    assert "submitted " in result.stderr, result.stdout[-3000:] + result.stderr[-3000:]
    submission_id = result.stderr.split("submitted ", 1)[1].split(":", 1)[0]
    return result, jobs_client(ray_head.url, ray_head.token).get_job_info(submission_id).job_id


@pytest.fixture(scope="module")
def trained(ray_head, labeled_nodes, train_data, tmp_path_factory):
    """One small training run submitted with its default class (train); (bundle, Ray job id)."""
    runs = tmp_path_factory.mktemp("workload_runs")
    overrides = train_overrides(train_data, runs, "workloads", "scaling.num_workers=1", "registry.name=null")
    result, job_id = _submit(ray_head, "train", "jobs/configs/train_small.yaml", *overrides)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "workload train: workers and data tasks run only on the nodes that accept it" in result.stdout
    return bundle_from(result.stdout), job_id


def _score_args(train_data: Path, bundle: Path, output: Path, *extra: str) -> list[str]:
    return [
        "score", "jobs/configs/score.yaml", f"model={bundle}", f"input={train_data}/valid/*.parquet",
        f"output={output}", "track=false", "drift.enabled=false", *extra,
    ]  # fmt: skip


def test_training_workers_run_on_the_train_node(ray_head, labeled_nodes, trained):
    _, job_id = trained
    workers = _actors(ray_head, job_id=job_id, class_name="RayTrainWorker")
    assert workers, f"no RayTrainWorker actors listed for job {job_id}"
    assert _nodes_of(ray_head, workers) == {labeled_nodes.ids["train"]}, workers


def test_every_scoring_actor_runs_on_the_score_node(ray_head, labeled_nodes, trained, train_data, tmp_path):
    bundle, _ = trained
    result, job_id = _submit(ray_head, *_score_args(train_data, bundle, tmp_path / "scores", "pool.actors=2"))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "[score] workload score: scoring actors run only on the nodes that accept it" in result.stdout
    actors = _actors(ray_head, job_id=job_id)
    scoring = [a for a in actors if any(name in a["class_name"] for name in SCORING_ACTORS)]
    assert scoring, f"no scoring actors among {[a['class_name'] for a in actors]}"
    assert all(a["state"] == "DEAD" for a in scoring), "the job ended: its actors are listed dead, with their node"
    assert _nodes_of(ray_head, scoring) == {labeled_nodes.ids["score"]}, scoring


def _wait_until_serving(process: subprocess.Popen, log: Path, url: str, timeout_s: float = 120) -> None:
    """Wait until `raylane serve` says it serves (its own /healthz wait is over), then check /healthz."""
    deadline = time.monotonic() + timeout_s
    while "[serve] Ctrl-C (or SIGTERM) stops" not in log.read_text():
        assert process.poll() is None, f"raylane serve exited with {process.returncode}:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"not serving after {timeout_s:.0f} s:\n{log.read_text()[-4000:]}"
        time.sleep(0.5)
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as reply:
        assert reply.status == 200


def test_serve_replicas_run_on_the_serve_node(ray_head, labeled_nodes, trained, tmp_path):
    from framework.cluster import auth_env

    bundle, _ = trained
    port = free_port()
    env = ray_head.env(RAY_ADDRESS=ray_head.gcs_address, **auth_env(ray_head.token_path))
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "framework.cli", "serve", "--model", str(bundle), "--port", str(port), "--no-auth"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(process, log, f"http://127.0.0.1:{port}")
        replicas = [a for a in _actors(ray_head, state="ALIVE") if a["class_name"].startswith("ServeReplica:")]
        by_deployment = {a["class_name"].rsplit(":", 1)[1]: a["node_id"] for a in replicas}
        assert by_deployment == {"Scorer": labeled_nodes.ids["serve"], "MetricsBoard": labeled_nodes.ids["serve"]}
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: the application is deleted and Serve stopped
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    output = log.read_text()
    assert "workload serve: replicas run only on the nodes that accept it" in output, output[-4000:]
    assert process.returncode == 0 and "[serve] stopping" in output, output[-4000:]


def test_a_class_no_node_accepts_fails_fast_naming_it(ray_head, labeled_nodes, trained, train_data, tmp_path):
    bundle, _ = trained
    started = time.monotonic()
    result, _ = _submit(ray_head, *_score_args(train_data, bundle, tmp_path / "scores", "workload=sweep"), timeout=120)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert "no live node accepts the class 'sweep'" in output, output[-4000:]
    for workload in CLASSES:
        assert f"{labeled_nodes.ids[workload][:12]} (" in output  # every live node is named, with its classes
    assert elapsed < 60, f"failing took {elapsed:.0f} s"
