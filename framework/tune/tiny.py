"""A tiny sweep over a training config, for the end-to-end demo: 4 trials, ASHA, best config printed.

Example:
    >>> result = tiny_sweep("jobs/configs/train_small.yaml", ["data.train=/d/train", ...], "/tmp/runs")
    [sweep] best config: {"optim.lr": 0.0031, "optim.batch_size": 1024}
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["tiny_sweep"]


def tiny_sweep(train_config: str, train_overrides: list[str], storage_path: str | Path, *, name: str = "demo-sweep",
               num_samples: int = 4, epochs: int = 2, fresh: bool = True, log=print):
    """Sweep optim.lr and optim.batch_size of `train_config` (+ overrides) with TPE + ASHA; returns a SweepResult.

    `fresh` removes an earlier sweep of the same name first (the demo starts over; real sweeps resume).
    """
    from framework.tune.config import SweepConfig
    from framework.tune.runner import run_sweep

    cfg = SweepConfig.model_validate(
        {
            "base": str(train_config),
            "overrides": [*train_overrides, f"optim.epochs={epochs}"],
            "space": {"optim.lr": {"loguniform": [3.0e-4, 1.0e-2]}, "optim.batch_size": {"categorical": [512, 1024, 2048]}},
            "objective": [{"metric": "auc", "mode": "max"}],
            "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 2},
            "num_samples": num_samples,
            "max_concurrent_trials": 2,
            "resources": {"workers_per_trial": 0, "cpus_per_trial": 0.5},
            "run": {"name": name, "storage_path": str(storage_path)},
        }
    )
    if fresh:
        shutil.rmtree(cfg.sweep_directory(), ignore_errors=True)
    result = run_sweep(cfg, log=log)
    log(f"[sweep] best config: {json.dumps(result.summary['best']['params'])}")
    return result
