"""The sweep job: reopen or create the study → run the remaining trials on Ray Tune → report.

    python -m jobs.sweep jobs/configs/sweep_small.yaml [key=value ...]
    raylane sweep jobs/configs/sweep_small.yaml [key=value ...] [--retrain-best]

Rerunning the same command resumes an interrupted sweep. The last line printed is `best: <path>`.
"""

from __future__ import annotations

import sys

from framework.tune import SweepResult, retrain_best, run_sweep
from framework.tune.config import SweepConfig


def main(cfg: SweepConfig) -> SweepResult:
    result = run_sweep(cfg)
    if cfg.retrain_best:
        retrained = retrain_best(cfg, result.summary, result.best_path)
        print(f"[sweep] retrained trial {retrained['trial']} on the full data: bundle {retrained['bundle']}", flush=True)
    print(f"best: {result.best_path}", flush=True)
    return result


if __name__ == "__main__":
    from framework.cli.job_entry import run_job

    sys.exit(run_job("sweep", main))
