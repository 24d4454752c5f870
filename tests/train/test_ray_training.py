"""Ray Train end to end on the shared cluster: accuracy, worker failure, driver death, the bundle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from framework.config import load_config
from framework.data import read_table
from framework.models import load_bundle
from framework.train import run_training
from framework.train.checkpoint import registered_checkpoints

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SMALL = "jobs/configs/train_small.yaml"
EPOCHS = 2


def _config(data_overrides, storage, name, *extra):
    overrides = data_overrides + [f"run.storage_path={storage}", f"run.name={name}", f"optim.epochs={EPOCHS}"]
    _, cfg = load_config(SMALL, overrides + list(extra))
    return cfg


@pytest.fixture(scope="module")
def reference_run(ray_cluster, data_overrides, tmp_path_factory):
    storage = tmp_path_factory.mktemp("runs")
    return run_training(_config(data_overrides, storage, "reference"))


def test_two_workers_reach_the_bayes_auc(reference_run):
    last, best = reference_run.metrics, reference_run.metrics["best"]
    assert last["epoch"] == EPOCHS and last["valid_rows"] == 60_000
    assert best["auc"] > best["bayes_auc"] - 0.03, (best["auc"], best["bayes_auc"])
    assert last["samples_per_s"] > 0 and last["resumes"] == 0


def test_bundle_scores_like_an_independent_reference(reference_run, training_data):
    bundle = load_bundle(reference_run.bundle)
    assert {p.name for p in Path(reference_run.bundle).iterdir()} >= {
        "model.safetensors", "model.json", "pipeline", "metrics.json", "contract.yaml", "lineage.json"
    }
    lineage = json.loads((Path(reference_run.bundle) / "lineage.json").read_text())
    assert lineage["seed"] == 0 and len(lineage["config_hash"]) == 64
    assert lineage["data"]["train"]["rows"] == 240_000 and lineage["code"]["git_commit"]
    valid = read_table(training_data / "valid")
    arrays = bundle.pipeline.transform_to_arrays(valid)
    continuous = np.nan_to_num(np.asarray(arrays["continuous"], dtype=np.float32))
    scores = bundle.predict_proba(continuous, np.asarray(arrays["categorical"]))
    auc = roc_auc_score(valid["label"].to_numpy(), scores)
    best = json.loads((Path(reference_run.bundle) / "metrics.json").read_text())["best"]
    assert auc == pytest.approx(best["auc"], abs=1e-6), "the bundle must score as the best checkpoint did"
    assert log_loss(valid["label"].to_numpy(), scores) == pytest.approx(best["logloss"], abs=1e-5)


def test_a_killed_worker_resumes_from_the_sharded_checkpoint(ray_cluster, data_overrides, tmp_path, reference_run):
    steps_per_epoch = reference_run.metrics["step"] // EPOCHS
    kill_at = steps_per_epoch + steps_per_epoch // 2  # mid-way through the second epoch
    # sharded: each worker checkpoints its own shards, and the restarted group reads them back
    cfg = _config(data_overrides, tmp_path, "killed-worker", "registry.name=null", "scaling.embeddings=row_wise")
    # killed once the epoch-1 checkpoint is registered, not merely reported (see loop._maybe_fail)
    registered = {"run_directory": str(tmp_path / "killed-worker"), "count": 1}
    fault = {"step": kill_at, "marker": str(tmp_path / "fired"), "after_checkpoints": registered}
    result = run_training(cfg, fault_injection=fault)
    assert (tmp_path / "fired").exists(), "the fault was never injected"
    last = result.metrics
    assert last["resumes"] == 1
    assert last["resumed_from_step"] == steps_per_epoch, "it must resume from the epoch-1 checkpoint, not step 0"
    assert last["step"] == reference_run.metrics["step"], "step counters continue rather than restart"
    # the reference trains replicated (auto, small tables) with Adam; this run's tables use row-wise Adagrad
    assert last["auc"] > last["bayes_auc"] - 0.03, (last["auc"], last["bayes_auc"])
    # unregistered (registry.name null), the run is still in MLflow: one value per epoch, resumed or not
    from framework.registry.store import experiment_id, mlflow_client

    client = mlflow_client()
    runs = client.search_runs([experiment_id(client)], filter_string="tags.`mlflow.runName` = 'killed-worker'")
    assert len(runs) == 1 and runs[0].data.tags["raylane.kind"] == "train" and result.model_version is None
    aucs = sorted(client.get_metric_history(runs[0].info.run_id, "auc"), key=lambda m: m.step)
    assert [m.step for m in aucs] == [1, 2] and aucs[-1].value == pytest.approx(last["auc"], abs=1e-9)
    assert runs[0].data.params["run.name"] == "killed-worker" and runs[0].data.tags["raylane.config_hash"]


def test_a_killed_driver_resumes_when_rerun(ray_cluster, data_overrides, tmp_path):
    address = ray_cluster.get_runtime_context().gcs_address
    overrides = data_overrides + [f"run.storage_path={tmp_path}", "run.name=killed-driver", f"optim.epochs={EPOCHS}"]
    command = [sys.executable, "-m", "jobs.train", SMALL, *overrides]
    env = {**os.environ, "RAY_ADDRESS": address}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not registered_checkpoints(tmp_path / "killed-driver") and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.5)
    assert first.poll() is None, f"the run ended before it could be killed:\n{first.stdout.read()}"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert registered_checkpoints(tmp_path / "killed-driver"), "no checkpoint was written before the kill"
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert second.stdout.strip().splitlines()[-1].startswith("bundle: ")
    metrics = json.loads((tmp_path / "killed-driver" / "bundle" / "metrics.json").read_text())
    assert metrics["resumes"] >= 1 and metrics["resumed_from_step"] > 0
    assert metrics["epoch"] == EPOCHS


def test_transforming_in_the_workers_trains_the_same_model(ray_cluster, data_overrides, tmp_path):
    """data.transform: workers (each worker transforms its raw shard itself, as GPU workers do by
    default) trains the same weights as the Ray Data tasks' transform: the same batches in the same order."""
    from safetensors.torch import load_file

    runs = {
        where: run_training(_config(data_overrides, tmp_path, f"transform-{where}", f"data.transform={where}", "optim.epochs=1"))
        for where in ("tasks", "workers")
    }
    weights = {where: load_file(Path(run.bundle) / "model.safetensors") for where, run in runs.items()}
    assert weights["workers"].keys() == weights["tasks"].keys()
    for name, expected in weights["tasks"].items():
        assert torch.equal(weights["workers"][name], expected), name
    assert runs["workers"].metrics["auc"] == runs["tasks"].metrics["auc"]
    assert runs["workers"].metrics["valid_rows"] == runs["tasks"].metrics["valid_rows"] == 60_000


def test_a_rerun_on_fewer_workers_and_another_placement_resumes_the_sharded_run(ray_cluster, data_overrides, tmp_path):
    """1 epoch row-wise on 2 workers, then the same run.name with optim.epochs=2 on 1 worker, table-wise:
    the second run resumes from the first's checkpoint, each worker reading only the pieces it now holds."""
    first = run_training(_config(data_overrides, tmp_path, "reshard", "registry.name=null", "optim.epochs=1",
                                 "scaling.embeddings=row_wise"))
    pieces = sorted(p.name for p in (tmp_path / "reshard").glob("checkpoint_*/embeddings-*.json"))
    assert pieces == ["embeddings-00000.json", "embeddings-00001.json"], pieces
    second = run_training(_config(data_overrides, tmp_path, "reshard", "registry.name=null", "optim.epochs=2",
                                  "scaling.num_workers=1", "scaling.embeddings=table_wise"))
    last = second.metrics
    assert last["epoch"] == 2 and last["resumes"] == 1
    assert last["resumed_from_step"] == first.metrics["step"], "the second epoch starts from the first's checkpoint"
    assert last["auc"] > first.metrics["bayes_auc"] - 0.05
