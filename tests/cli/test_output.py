"""What `raylane train` prints by default: raylane's own lines only, each epoch summary once (2 workers,
rank 0 speaks), and a log file that holds what was hidden (Ray's driver logs and the workers' output)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from framework.data.generate import GenerateRequest, write_synthetic_dataset

pytestmark = [pytest.mark.ray, pytest.mark.slow]

RAY_INTERNAL = re.compile(r"\((RayTrainWorker|TrainController|PlacementGroupCleaner|autoscaler)|core_worker\.cc|"
                          r"Execution plan|streaming_executor|INFO |WARNING |Reporting training result")


def test_train_prints_raylanes_lines_once_and_keeps_rays_in_the_log(tmp_path):
    write_synthetic_dataset(tmp_path / "train", GenerateRequest(rows=20_000, seed=1))
    write_synthetic_dataset(tmp_path / "valid", GenerateRequest(rows=5_000, seed=2))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYLANE_LOG")}  # a fresh Ray, quiet
    overrides = [f"data.train={tmp_path / 'train'}", f"data.valid={tmp_path / 'valid'}",
                 f"data.contract={tmp_path / 'train' / 'contract.yaml'}", f"run.storage_path={tmp_path / 'runs'}",
                 "run.name=out", "optim.epochs=2", "scaling.num_workers=2", "registry.name=null"]
    done = subprocess.run([sys.executable, "-m", "framework.cli", "train", "jobs/configs/train_small.yaml", *overrides],
                          env={**env, "RAYLANE_HOME": str(tmp_path / "home")}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    printed = done.stdout.splitlines() + done.stderr.splitlines()
    hidden = [line for line in printed if RAY_INTERNAL.search(line)]
    assert not hidden, hidden[:5]
    assert [line for line in printed if re.match(r"\[train\] epoch 1/2: auc", line)].__len__() == 1
    assert [line for line in printed if re.match(r"\[train\] epoch 2/2: auc", line)].__len__() == 1
    assert all(line.startswith(("[train] ", "[features] ", "[raylane] ", "logs: ", "bundle: ")) for line in printed), printed
    assert any(line.startswith("[features] fit: 20,000/20,000 rows") for line in printed), printed
    log_lines = [line for line in printed if line.startswith("logs: ")]
    assert log_lines == [f"logs: {tmp_path / 'runs' / 'out' / 'raylane.log'} (Ray's own output; --verbose shows it here)"]
    log = (tmp_path / "runs" / "out" / "raylane.log").read_text()
    assert "(RayTrainWorker" in log and "Execution plan" in log  # the workers' and Ray Data's output, kept


_TASK = """
import sys, time
from framework.console import Console
Console.setup(verbose_flag=sys.argv[1] == "verbose")
from framework.ray_session import ensure_ray
ray = ensure_ray()
print("[train] a raylane line", flush=True)
ray.get(ray.remote(num_cpus=0)(lambda: print("hello from a Ray task", flush=True)).remote())
time.sleep(2)  # Ray streams worker output to the driver about once a second
"""


@pytest.mark.parametrize("mode", ["quiet", "verbose"])
def test_worker_output_goes_to_the_log_unless_verbose(tmp_path, mode):
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYLANE_LOG")}
    done = subprocess.run([sys.executable, "-c", _TASK, mode], env={**env, "RAYLANE_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    logs = list((tmp_path / "logs").glob("raylane-*.log"))
    assert "[train] a raylane line" in done.stdout
    if mode == "verbose":
        assert "hello from a Ray task" in done.stdout and not logs and "logs:" not in done.stdout
    else:
        assert "hello from a Ray task" not in done.stdout + done.stderr
        assert len(logs) == 1 and "hello from a Ray task" in logs[0].read_text()
        assert f"logs: {logs[0]}" in done.stdout


def test_a_sweep_prints_its_trials_story_and_no_training_steps(tmp_path):
    write_synthetic_dataset(tmp_path / "train", GenerateRequest(rows=20_000, seed=1, files_per_day=1))
    write_synthetic_dataset(tmp_path / "valid", GenerateRequest(rows=5_000, seed=2, files_per_day=1))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYLANE_LOG")}
    data = [f"data.train={tmp_path / 'train'}", f"data.valid={tmp_path / 'valid'}",
            f"data.contract={tmp_path / 'train' / 'contract.yaml'}", "optim.epochs=2", "optim.batch_size=256"]
    overrides = ["overrides=[" + ",".join(data) + "]", "num_samples=2", "run.name=out", f"run.storage_path={tmp_path / 'runs'}"]
    done = subprocess.run([sys.executable, "-m", "framework.cli", "sweep", "jobs/configs/sweep_small.yaml", *overrides],
                          env={**env, "RAYLANE_HOME": str(tmp_path / "home")}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    printed = done.stdout.splitlines() + done.stderr.splitlines()
    assert not [line for line in printed if RAY_INTERNAL.search(line)]
    assert not [line for line in printed if "Configuration for experiment" in line or "View detailed results" in line
                or "tensorboard" in line.lower()]
    trials = [line for line in printed if line.startswith(("[train] epoch", "[train] embedding"))]
    assert not trials, trials  # a trial's story is its [sweep] lines; the driver's own fit line stays
    assert len([line for line in printed if re.match(r"\[sweep\] trial \d+ epoch 1", line)]) == 2, printed
    log = (tmp_path / "runs" / "out" / "raylane.log").read_text()
    assert "(trial " in log and "embedding tables" in log  # a trial's setup lines, kept in the log
