"""`--retrain-best`: train the sweep's best config on the full data and write its model bundle.

"Full data" is the base training config with its `overrides` but without `trial_overrides` (where
a sweep points its trials at a sample, or trains them for fewer epochs), and with the base
config's own scaling (its Ray Train workers), not the trials' resources.

Example:
    >>> retrained = retrain_best(cfg, summary)      # summary: the content of best.json
    >>> retrained["bundle"]
    '/.../runs/sweep-small/best/bundle'
"""

from __future__ import annotations

import json
from pathlib import Path

from framework.config import validate_mapping
from framework.tune.space import trial_train_dict
from framework.tune.trial import absolute_data_paths

__all__ = ["retrain_best", "retrain_config"]


def retrain_config(cfg, best: dict):
    """The TrainConfig of the retrain: base + best parameters (+ tied keys), run `best` in the sweep dir."""
    mapping = absolute_data_paths(trial_train_dict(cfg.base_train_dict(), best["params"], cfg.tied))
    mapping.setdefault("run", {}).update(name="best", storage_path=str(cfg.sweep_directory()))
    return validate_mapping(mapping, "train", f"{cfg.run.name} best trial {best['trial']}")[1]


def retrain_best(cfg, summary: dict, best_path: Path | None = None) -> dict:
    """Train the best trial's config (for several objectives: the Pareto front's best by the first)."""
    from framework.train import run_training

    best = summary["best"]
    result = run_training(retrain_config(cfg, best))
    retrained = {"trial": best["trial"], "bundle": str(result.bundle), "metrics": result.metrics.get("best", {})}
    if best_path is not None:
        document = json.loads(Path(best_path).read_text())
        document["retrained"] = retrained
        Path(best_path).write_text(json.dumps(document, indent=2) + "\n")
    return retrained
