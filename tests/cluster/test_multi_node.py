"""Two nodes on this machine: a training run places workers on both, and survives losing one."""

from __future__ import annotations

import json
import time

import pytest

from tests.cluster.conftest import SLOT, bundle_from, raylane, train_overrides

pytestmark = pytest.mark.slow

WORKER_CLASS = "RayTrainWorker"


def _workers(head, ray_job_id: str | None = None) -> list[dict]:
    """Training workers in the cluster, or only those of one job (earlier tests ran jobs on this head)."""
    from framework.cluster import list_actors

    workers = list_actors(head.url, head.token, WORKER_CLASS)
    return [w for w in workers if ray_job_id is None or w["job_id"] == ray_job_id]


def _wait_for_workers_on(head, node_ids: set[str], client, submission_id: str, timeout_s: float = 240) -> list[dict]:
    """Wait until live training workers sit on every node in `node_ids`; return them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [w for w in _workers(head) if w["state"] == "ALIVE"]
        if {w["node_id"] for w in alive} >= node_ids:
            return alive
        status = client.get_job_status(submission_id)
        if status.is_terminal():
            logs = client.get_job_logs(submission_id)[-4000:]
            raise AssertionError(f"the job ended ({status}) before workers ran on both nodes:\n{logs}")
        time.sleep(0.5)
    raise AssertionError(f"no training workers on every node of {node_ids} after {timeout_s:.0f} s: {_workers(head)}")


def _wait_for_first_checkpoint(run_dir, client, submission_id: str, timeout_s: float = 180) -> None:
    """Until Ray Train has registered a checkpoint (its controller does so only at its next poll of the
    workers, every 2 s: a node lost before that restarts the run from scratch, not from the checkpoint)."""
    from framework.train.checkpoint import registered_checkpoints

    deadline = time.monotonic() + timeout_s
    while not registered_checkpoints(run_dir):
        assert time.monotonic() < deadline, f"no checkpoint in {run_dir} after {timeout_s:.0f} s"
        assert not client.get_job_status(submission_id).is_terminal(), client.get_job_logs(submission_id)[-4000:]
        time.sleep(0.2)


def test_training_uses_both_nodes_and_survives_losing_one(ray_head, second_node, train_data, tmp_path):
    from framework.cluster import jobs_client, list_nodes, wait_for_job

    head_id = next(n.node_id for n in list_nodes(ray_head.url, ray_head.token) if n.is_head)
    # One `trainer_slot` per node and one per worker: two workers must land on two nodes. Elastic [1, 2]:
    # after losing a node, the run restarts (run.max_failures: 1) from its checkpoint with the one slot left.
    # Row-wise sharded tables: the lone worker left reads both workers' shards back (resharding 2 -> 1).
    overrides = train_overrides(
        train_data, tmp_path / "runs", "two-nodes",
        "scaling.num_workers=[1,2]", f"scaling.resources_per_worker={{CPU: 0.5, {SLOT}: 1}}",
        "run.max_failures=1", "optim.epochs=4", "scaling.embeddings=row_wise",
    )  # fmt: skip
    result = raylane(ray_head, "submit", "train", "jobs/configs/train_small.yaml", *overrides,
                     "--address", ray_head.url, "--no-wait", timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    submission_id = result.stdout.strip().splitlines()[-1]
    client = jobs_client(ray_head.url, ray_head.token)

    placed = _wait_for_workers_on(ray_head, {head_id, second_node.node_id}, client, submission_id)
    placement = {w["actor_id"][:8]: "head" if w["node_id"] == head_id else "second node" for w in placed}
    print(f"training workers placed: {placement}")
    assert sorted(placement.values()) == ["head", "second node"]

    _wait_for_first_checkpoint(tmp_path / "runs" / "two-nodes", client, submission_id)
    second_node.kill()  # mid-training, after the first checkpoint: the worker on it dies with the node

    status = wait_for_job(client, submission_id, timeout_s=300)
    logs = client.get_job_logs(submission_id)
    assert str(status) == "SUCCEEDED", logs[-6000:]
    bundle = bundle_from(logs)
    assert bundle.is_dir() and any(bundle.iterdir())
    assert "sharded by TorchRec (row_wise)" in logs
    assert json.loads((bundle / "metrics.json").read_text())["resumes"] >= 1, "the restarted group resumed from shards"
    workers = _workers(ray_head, client.get_job_info(submission_id).job_id)
    lost = [w for w in workers if w["node_id"] == second_node.node_id]
    assert lost and all(w["state"] == "DEAD" for w in lost)
    assert len(workers) >= 3, f"a replacement worker group must have started after the node died: {workers}"
    dead_node = [n for n in list_nodes(ray_head.url, ray_head.token) if n.node_id == second_node.node_id]
    assert dead_node and dead_node[0].state == "DEAD"
