"""The training job: check data → fit features → train on Ray Train → write the model bundle.

    python -m jobs.train jobs/configs/train_small.yaml [key=value ...]
    raylane train jobs/configs/train_small.yaml optim.epochs=3

The last line printed is `bundle: <path>`.
"""

from __future__ import annotations

import sys

from framework.train import TrainConfig, TrainResult, run_training


def main(cfg: TrainConfig) -> TrainResult:
    result = run_training(cfg)
    best = result.metrics.get("best", {})
    line = f"[train] done: auc {best.get('auc', float('nan')):.4f}"
    if "bayes_auc" in best:
        line += f" (Bayes AUC {best['bayes_auc']:.4f})"
    print(f"{line}, logloss {best.get('logloss', float('nan')):.4f}", flush=True)
    print(f"bundle: {result.bundle}", flush=True)
    return result


if __name__ == "__main__":
    from framework.cli.job_entry import run_job

    sys.exit(run_job("train", main))
