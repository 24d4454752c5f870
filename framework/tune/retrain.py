"""`--retrain-best`: train the sweep's best config on the full data and write its model bundle.

"Full data" is the base training config with its `overrides` but without `trial_overrides` (where
a sweep points its trials at a sample, or trains them for fewer epochs), and with the base
config's own scaling (its Ray Train workers), not the trials' resources.

The retrain trains for as many epochs as the best trial kept (`kept_epoch` in best.json: the epoch
its checkpoint rule keeps), since the later ones made the model no better. The trials' own count
(the base config, `overrides`, or a searched `optim.epochs`) is their budget, not the retrain's;
`retrain_epochs: N` in the sweep config sets the retrain's count instead (see `retrain_epochs`).

Example:
    >>> retrained = retrain_best(cfg, summary)      # summary: the content of best.json
    [sweep] --retrain-best trains 1 epoch(s): trial 3 kept epoch 1 of the 2 it trained (its highest auc, ...
    >>> retrained["bundle"]
    '/.../runs/sweep-small/best/bundle'
"""

from __future__ import annotations

import json
from pathlib import Path

from framework.config import apply_overrides, validate_mapping
from framework.tune.kept import KeptEpochRule
from framework.tune.space import trial_train_dict
from framework.tune.trial import absolute_data_paths

__all__ = ["retrain_best", "retrain_config", "retrain_epochs"]


def _sets_epochs(overrides: list[str]) -> bool:
    optim = apply_overrides({}, overrides).get("optim")
    return isinstance(optim, dict) and "epochs" in optim


def _configured(cfg, best: dict) -> dict:
    """Base + overrides + best parameters (+ tied keys), data paths absolute, run `best` in the sweep dir."""
    mapping = absolute_data_paths(trial_train_dict(cfg.base_train_dict(), best["params"], cfg.tied))
    mapping.setdefault("run", {}).update(name="best", storage_path=str(cfg.sweep_directory()))
    mapping["workload"] = cfg.workload  # the sweep's nodes run its retrain too
    return mapping


def _validate(mapping: dict, cfg, best: dict):
    return validate_mapping(mapping, "train", f"{cfg.run.name} best trial {best['trial']}")[1]


def retrain_epochs(cfg, best: dict) -> tuple[int, str]:
    """The retrain's epoch count and why: the epoch the best trial kept, unless the sweep config sets
    `retrain_epochs`.

    The trials' optim.epochs (base config, `overrides`, or searched) is what they could train, and the
    kept epoch is what their best model needed. One set in `trial_overrides` trained the trials for
    another count than the retrain's (on a sample, say), so their kept epoch says nothing about it.
    """
    configured = _validate(_configured(cfg, best), cfg, best).optim.epochs
    trial, kept = best["trial"], best.get("kept_epoch")
    also = f" (trial {trial} kept epoch {kept})" if kept is not None else ""
    if cfg.retrain_epochs is not None:
        return cfg.retrain_epochs, f"retrain_epochs={cfg.retrain_epochs} is set in the sweep config{also}"
    if _sets_epochs(cfg.trial_overrides):
        return configured, f"the base config's optim.epochs; trial_overrides set the trials' own{also}"
    if kept is None:
        return configured, f"the config's optim.epochs; the study records no kept epoch for trial {trial}"
    rule = KeptEpochRule.of_sweep(cfg).describe()
    return kept, (f"trial {trial} kept epoch {kept} of the {best['epochs']} it trained (its {rule}, run.checkpoint); "
                  "set retrain_epochs in the sweep config to train another count")


def retrain_config(cfg, best: dict):
    """The TrainConfig of the retrain: base + best parameters (+ tied keys), `retrain_epochs` epochs,
    run `best` in the sweep dir."""
    mapping = _configured(cfg, best)
    mapping.setdefault("optim", {})["epochs"] = retrain_epochs(cfg, best)[0]
    return _validate(mapping, cfg, best)


def retrain_best(cfg, summary: dict, best_path: Path | None = None, log=print) -> dict:
    """Train the best trial's config (for several objectives: the Pareto front's best by the first)."""
    from framework.train import run_training

    best = summary["best"]
    epochs, why = retrain_epochs(cfg, best)
    log(f"[sweep] --retrain-best trains {epochs} epoch(s): {why}")
    result = run_training(retrain_config(cfg, best))
    retrained = {"trial": best["trial"], "epochs": epochs, "bundle": str(result.bundle),
                 "metrics": result.metrics.get("best", {})}
    if best_path is not None:
        document = json.loads(Path(best_path).read_text())
        document["retrained"] = retrained
        Path(best_path).write_text(json.dumps(document, indent=2) + "\n")
    return retrained
