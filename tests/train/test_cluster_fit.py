"""A training run never waits silently: 2 workers on a 2-CPU machine with no `resources_per_worker`
are fitted to the cluster and train to a bundle; the same config with the resources pinned stops at once
naming the keys (both on a fresh Ray, in a subprocess, as a user runs it); and a run made to stall ends
with an error naming the stage, within its `run.stall_timeout_s`, and resumes when rerun.

The first run also trains on one hive partition (`train/event_date=...`) and validates on a glob inside
another: the partition columns come from the paths wherever they stand."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import pytest

from framework.config import load_config
from framework.train import run_training
from framework.watchdog import Stalled

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SMALL = "jobs/configs/train_small.yaml"


def _fresh_ray_env(tmp_path) -> dict:
    """No RAY_ADDRESS: `jobs.train` starts its own local Ray, as on a user's laptop."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, "RAYLANE_HOME": str(tmp_path / "home")}


def _partition_overrides(training_data) -> list[str]:
    day = sorted(p.name for p in (training_data / "train").iterdir() if p.name.startswith("event_date="))[0]
    return [f"data.train={training_data / 'train' / day}",
            f"data.valid={training_data / 'valid' / '*' / '*.parquet'}",
            f"data.contract={training_data / 'train' / 'contract.yaml'}"]


def test_two_unpinned_workers_on_two_cpus_are_fitted_and_train_to_a_bundle(training_data, tmp_path):
    overrides = _partition_overrides(training_data) + [
        f"run.storage_path={tmp_path}", "run.name=fitted", "optim.epochs=1", "registry.name=null",
        "scaling.num_workers=2", "scaling.resources_per_worker=null"]
    done = subprocess.run([sys.executable, "-m", "framework.cli", "train", SMALL, *overrides], env=_fresh_ray_env(tmp_path),
                          capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert ("[train] scaling.resources_per_worker not set: each of 2 worker(s) takes 0.5 CPU, leaving 1 CPU "
            "for Ray Data tasks on this 2-CPU cluster") in output
    assert done.stdout.strip().splitlines()[-1] == f"bundle: {tmp_path / 'fitted' / 'bundle'}"
    assert "120,000 training rows" in output  # one day of the two


def test_the_same_config_with_pinned_resources_fails_fast_naming_the_keys(training_data, tmp_path):
    overrides = _partition_overrides(training_data) + [
        f"run.storage_path={tmp_path}", "run.name=pinned", "registry.name=null",
        "scaling.num_workers=2", "scaling.resources_per_worker={CPU: 1}"]
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "framework.cli", "train", SMALL, *overrides], env=_fresh_ray_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 60
    assert done.returncode != 0
    assert ("scaling.num_workers, scaling.resources_per_worker: 2 training worker(s) x {CPU: 1} plus {CPU: 1} for "
            "Ray Data tasks cannot run on this cluster (CPU: asks 3 in all, the cluster has 2") in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "pinned" / "bundle").exists()


def test_a_stalled_run_ends_naming_the_stage_then_resumes_when_rerun(ray_cluster, data_overrides, tmp_path):
    from framework.train.checkpoint import registered_checkpoints

    base = data_overrides + [f"run.storage_path={tmp_path}", "run.name=stalled", "registry.name=null", "optim.epochs=2"]
    _, cfg = load_config(SMALL, base + ["run.stall_timeout_s=45"])  # room for a loaded CI machine's slow steps
    steps_per_epoch = math.ceil(240_000 / (cfg.optim.batch_size * 2))
    registered = {"run_directory": str(tmp_path / "stalled"), "count": 1}
    fault = {"step": steps_per_epoch + 5, "marker": str(tmp_path / "stalled-once"), "stall": True,
             "after_checkpoints": registered}
    with pytest.raises(Stalled) as error:
        run_training(cfg, fault_injection=fault)
    assert (tmp_path / "stalled-once").exists(), f"the watchdog fired before the stall: {error.value}"
    stalled_at = os.path.getmtime(tmp_path / "stalled-once")
    assert time.time() - stalled_at < 45 + 40, "the watchdog fired long after its timeout"
    message = str(error.value)
    assert "train: no progress for 4" in message and "in stage 'training (Ray Train workers)'" in message
    assert "run.stall_timeout_s = 45" in message and "pending:" in message
    assert registered_checkpoints(tmp_path / "stalled"), "the epoch-1 checkpoint is kept"
    deadline = time.monotonic() + 60  # the aborted run gives its workers' CPUs back
    while ray_cluster.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    assert ray_cluster.available_resources().get("CPU", 0) >= 2
    _, again = load_config(SMALL, base)
    result = run_training(again, fault_injection=fault)  # the marker exists: no stall this time
    assert result.metrics["epoch"] == 2 and result.metrics["resumed_from_step"] == steps_per_epoch
