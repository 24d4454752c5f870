"""Per-epoch metrics of a run, kept as it trains: a Ray Train callback on the controller appends
every epoch's rank-0 metrics to `<run dir>/epochs.jsonl`, so the tracking store gets the whole curve
(a resumed run appends to the same file; the last record of an epoch wins).

Example:
    >>> callbacks = [EpochHistory(run_dir)]          # RunConfig(callbacks=...)   # doctest: +SKIP
    >>> read_history(run_dir)[-1]["auc"]                                          # doctest: +SKIP
    0.7391
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ray.train import UserCallback

__all__ = ["EpochHistory", "read_history", "HISTORY_FILE"]

HISTORY_FILE = "epochs.jsonl"


def _plain(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


class EpochHistory(UserCallback):
    def __init__(self, run_dir: str | Path):
        self.path = str(Path(run_dir) / HISTORY_FILE)

    def after_report(self, run_context, metrics, checkpoint):
        rank0 = metrics[0] if metrics else {}
        if not rank0 or rank0.get("partial_epoch"):
            return  # mid-epoch checkpoints carry placeholder metrics
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(_plain(rank0)) + "\n")


def read_history(run_dir: str | Path) -> list[dict]:
    """One record per epoch, in epoch order."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        return []
    by_epoch = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        by_epoch[int(record.get("epoch", len(by_epoch) + 1))] = record
    return [by_epoch[e] for e in sorted(by_epoch)]
