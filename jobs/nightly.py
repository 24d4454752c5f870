"""The nightly job: score the day → check drift → (on drift) retrain, register, gate, promote or keep.

    python -m jobs.nightly jobs/configs/nightly.yaml [key=value ...]
    raylane nightly jobs/configs/nightly.yaml score.run_date=2026-01-09
    raylane submit nightly jobs/configs/nightly.yaml ...

The last line printed is `decision: <no drift|promoted|kept|retrain off>`.
"""

from __future__ import annotations

import sys

from framework.monitor.nightly import NightlyResult, run_nightly
from framework.monitor.nightly_config import NightlyConfig
from framework.ray_session import ensure_ray


def main(cfg: NightlyConfig) -> NightlyResult:
    ensure_ray()
    result = run_nightly(cfg)
    print(f"decision: {result.decision}", flush=True)
    return result


if __name__ == "__main__":
    from framework.cli.job_entry import run_job

    sys.exit(run_job("nightly", main))
