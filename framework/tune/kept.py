"""The epoch a sweep records for each trial: the one its checkpoint rule keeps.

`raylane train` keeps the checkpoint with the best `run.checkpoint.metric` in `run.checkpoint.mode`,
and its bundle is that epoch's model. A sweep records the same epoch of every trial, so the values
the sampler learns from and best.json reports are those of a model that exists:

- every objective's value comes from the kept epoch, also when the objective is not the checkpoint
  metric: the kept epoch's model is the one that exists, and an objective's own best epoch may be
  one whose checkpoint was thrown away;
- a trial that ASHA stops keeps the best epoch it reached;
- of equally good epochs the earliest is kept; epochs without a finite checkpoint metric are kept
  only when none has one, and then the last epoch is.

The rule is the trials' `run.checkpoint` (the base config with `overrides` and `trial_overrides`).
`open_study` records it in the study, so the recorder, which sees no config, applies the same rule,
and a reader of the study knows which epoch its values are.

Example:
    >>> rule = KeptEpochRule("auc", "max")
    >>> rule.kept([{"epoch": 1, "auc": 0.7395, "logloss": 0.52}, {"epoch": 2, "auc": 0.717, "logloss": 0.50}])
    {'epoch': 1, 'auc': 0.7395, 'logloss': 0.52}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

__all__ = ["KEPT_BY_KEY", "KeptEpochRule"]

KEPT_BY_KEY = "raylane.kept_by"  # study user attribute: the rule its trials' values were recorded by


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class KeptEpochRule:
    """A trial keeps its epoch with the best `metric` in `mode` (the training default: auc, max)."""

    metric: str = "auc"
    mode: Literal["max", "min"] = "max"

    @classmethod
    def of_sweep(cls, cfg) -> "KeptEpochRule":
        """The checkpoint rule of the sweep's trials."""
        from framework.config import apply_overrides, validate_mapping

        trials = apply_overrides(cfg.base_train_dict(), cfg.trial_overrides)
        checkpoint = validate_mapping(trials, "train", "base training config with trial_overrides")[1].run.checkpoint
        return cls(checkpoint.metric, checkpoint.mode)

    @classmethod
    def of_study(cls, study) -> "KeptEpochRule":
        """The rule `open_study` recorded in the study; the training default for a study without one."""
        return cls(**study.user_attrs.get(KEPT_BY_KEY, {}))

    def record(self, study) -> None:
        if study.user_attrs.get(KEPT_BY_KEY) != asdict(self):
            study.set_user_attr(KEPT_BY_KEY, asdict(self))

    def describe(self) -> str:
        return f"{'highest' if self.mode == 'max' else 'lowest'} {self.metric}"

    def kept(self, epochs: list[dict]) -> dict:
        """The kept one of a trial's per-epoch metrics (in the order reported; {} for none).

        An epoch reported twice (a worker failure made it train again) counts with its last report.
        """
        latest = {record.get("epoch"): record for record in epochs}
        candidates = list(latest.values())
        scored = [record for record in candidates if _finite(record.get(self.metric))]
        if not scored:
            return dict(candidates[-1]) if candidates else {}
        sign = 1.0 if self.mode == "max" else -1.0
        return dict(max(scored, key=lambda record: sign * record[self.metric]))  # max: the first of equals
