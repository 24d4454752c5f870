"""The nightly batch-scoring job: check the day against the model's contract → score it in a Ray Data
actor pool → commit OUTPUT/run_date=YYYY-MM-DD exactly once.

    python -m jobs.score jobs/configs/score.yaml [key=value ...]
    raylane submit score jobs/configs/score.yaml model=runs/ctr-small/bundle run_date=2026-01-04
    raylane score --model runs/ctr-small/bundle --input data/day --output scores --run-date 2026-01-04

The last line printed is `run: <committed run directory>`.
"""

from __future__ import annotations

import sys

from framework.score import ScoreConfig, ScoreResult, run_scoring


def main(cfg: ScoreConfig) -> ScoreResult:
    result = run_scoring(cfg)
    print(f"run: {result.run_dir}", flush=True)
    return result


if __name__ == "__main__":
    from framework.cli.job_entry import run_job

    sys.exit(run_job("score", main))
