"""The driver side of the study: define-by-run sampling, and each trial's metrics written into it.

OptunaSearch asks the study for a trial and calls `StudyTrials.define` on it, which suggests every
key of the space and adds the Optuna trial number to the Tune config. `StudyRecorder`, a Tune
callback, then writes each trial's Tune id, run directory and per-epoch metrics into that Optuna
trial's user attributes, so the study alone holds everything the results, the dashboard and a
resumed sweep need. All writes happen in the driver, before the trial is told.

A trial is told the objective values of the epoch it keeps (`framework.tune.kept`), not of its
last epoch. OptunaSearch tells the study from the trial's last result, which Tune hands to its
callbacks first and lets them change; the recorder puts the kept epoch's values there.

Example:
    >>> trials = StudyTrials(cfg.space)
    >>> searcher = OptunaSearch(space=trials.define, metric="auc", mode="max", storage=storage)
    >>> callbacks = [StudyRecorder(trials, cfg, trials_dir)]
"""

from __future__ import annotations

import math

from framework.tune.kept import KeptEpochRule
from framework.tune.space import suggest_params
from framework.tune.trial import TRIAL_NUMBER_KEY

__all__ = ["StudyTrials", "StudyRecorder", "RECORDED_METRICS"]

# Per-epoch metrics copied into the study (all numbers the training loop reports that matter later).
RECORDED_METRICS = ("epoch", "auc", "logloss", "train_loss", "num_params", "samples_per_s", "bayes_auc", "valid_rows")


class StudyTrials:
    """The live Optuna trials this driver asked for, by trial number."""

    def __init__(self, space: dict):
        self._space = space
        self._live: dict[int, object] = {}

    def define(self, trial) -> dict:
        """OptunaSearch's define-by-run space: suggest every key, hand Tune the trial number."""
        suggest_params(trial, self._space)
        self._live[trial.number] = trial
        return {TRIAL_NUMBER_KEY: trial.number}

    def adopt(self, trial) -> None:
        """A trial asked outside OptunaSearch (pbt's initial population)."""
        self._live[trial.number] = trial

    def set_attrs(self, number: int, **attrs) -> None:
        trial = self._live[number]
        for key, value in attrs.items():
            trial.set_user_attr(key, value)

    def study_of(self, number: int):
        return self._live[number].study

    def __getstate__(self) -> dict:
        # Tune pickles its searcher into its own experiment state, which raylane never reads back;
        # live trials (and their database connections) stay out of it.
        return {"_space": self._space, "_live": {}}


def _number(value) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


class StudyRecorder:
    """A Ray Tune callback (made one by `as_tune_callback`) that records trials into the study.

    Per trial it keeps the user attributes `history` (every epoch's objective metrics), `metrics`
    (the last epoch's) and `kept` (the metrics of the epoch its checkpoint rule keeps). With
    `tell=True` (pbt, where Tune allows no search algorithm) it also tells the study each trial's
    kept objective values.
    """

    def __init__(self, trials: StudyTrials, objective: list, space_keys: list, epochs: int, study=None, log=print,
                 tracker=None):
        self._trials = trials
        self._epochs = epochs
        self._metrics = [o.metric for o in objective]
        self._space_keys = list(space_keys)
        self._study = study  # set only when this callback must tell the study
        self._history: dict[str, list] = {}
        self._numbers: dict[str, int] = {}  # Tune trial id -> study trial, fixed at its first start
        self._epochs_seen: dict[str, list] = {}  # Tune trial id -> every recorded metric, per epoch
        self._rule: KeptEpochRule | None = None  # read from the study at the first result
        self._log = log
        self._tracker = tracker  # framework.tune.tracking.SweepTracker: each finished trial to MLflow

    def __getstate__(self) -> dict:
        # Tune pickles its callbacks into tuner.pkl, which raylane never reads back: keep only data
        return {"_metrics": self._metrics, "_space_keys": self._space_keys, "_epochs": self._epochs, "_numbers": {}}

    def _number(self, trial) -> int:
        # pbt's exploit copies a better trial's whole config, this key included: trust the first start
        return self._numbers.setdefault(trial.trial_id, trial.config[TRIAL_NUMBER_KEY])

    def _kept(self, trial) -> dict:
        if self._rule is None:
            self._rule = KeptEpochRule.of_study(self._trials.study_of(self._number(trial)))
        return self._rule.kept(self._epochs_seen.get(trial.trial_id, []))

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        restart = trial.trial_id in self._numbers
        number = self._number(trial)
        params = ", ".join(f"{k}={_short(trial.config[k])}" for k in self._space_keys)
        if restart:
            self._log(f"[sweep] trial {number} ({trial.trial_id}) continues from a better trial's checkpoint: {params}")
            return
        self._history[trial.trial_id] = []
        self._trials.set_attrs(number, tune_trial_id=trial.trial_id, train_run=f"train-{trial.trial_id}")
        self._log(f"[sweep] trial {number} ({trial.trial_id}) started: {params}")

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        number = self._number(trial)
        metrics = {k: _number(result.get(k)) for k in RECORDED_METRICS if _number(result.get(k)) is not None}
        history = self._history.setdefault(trial.trial_id, [])
        history.append({k: metrics.get(k) for k in ("epoch", *self._metrics)})
        self._epochs_seen.setdefault(trial.trial_id, []).append(metrics)
        kept = self._kept(trial)
        attrs = {"metrics": metrics, "history": history, "kept": kept}
        if self._study is not None:
            attrs["final_params"] = {k: trial.config[k] for k in self._space_keys}
        self._trials.set_attrs(number, **attrs)
        planned = trial.config.get("optim.epochs", self._epochs)
        epoch = metrics.get("epoch", planned)
        stop = " (stopped by the scheduler)" if result.get("done") and epoch < planned else ""
        values = " ".join(f"{m} {metrics.get(m, float('nan')):.4g}" for m in self._metrics)
        recorded = ""
        if result.get("done") or epoch >= planned:  # the trial's last result: what the study is told
            recorded = self._hand_over_kept(result, kept, epoch)
        self._log(f"[sweep] trial {number} epoch {metrics.get('epoch', '?')}: {values}{stop}{recorded}")

    def _hand_over_kept(self, result: dict, kept: dict, epoch) -> str:
        """Put the kept epoch's objective values into the trial's last result, from which OptunaSearch
        tells the study (Tune stores the result this callback may change, then hands it to the
        searcher). Tune's own record of that result keeps the epoch's values under `last_epoch`."""
        result["kept_epoch"] = kept.get("epoch", epoch)
        if result["kept_epoch"] == epoch:
            return ""
        result["last_epoch"] = {m: result[m] for m in self._metrics if m in result}
        result.update({m: kept[m] for m in self._metrics if m in kept})
        values = " ".join(f"{m} {kept.get(m, float('nan')):.4g}" for m in self._metrics)
        return f"; the study records epoch {result['kept_epoch']}, the kept one: {values}"

    def _track(self, trial, outcome: str) -> None:
        if self._tracker is None:
            return
        params = {k: trial.config[k] for k in self._space_keys}
        self._tracker.trial_finished(self._number(trial), params, self._epochs_seen.get(trial.trial_id, []), outcome)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        last = trial.last_result or {}
        planned = trial.config.get("optim.epochs", self._epochs)
        self._track(trial, "stopped" if last.get("epoch", planned) < planned else "complete")
        if self._study is None:
            return
        kept = self._kept(trial)
        values = [_number(kept.get(m)) for m in self._metrics]
        from optuna.trial import TrialState

        number = self._number(trial)
        if any(v is None for v in values):
            self._study.tell(number, state=TrialState.FAIL)
        else:
            self._study.tell(number, values if len(values) > 1 else values[0])

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        number = self._number(trial)
        self._log(f"[sweep] trial {number} ({trial.trial_id}) failed; its log is under {trial.path}")
        self._track(trial, "failed")
        if self._study is not None:
            from optuna.trial import TrialState

            self._study.tell(number, state=TrialState.FAIL)


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def as_tune_callback(recorder: StudyRecorder):
    """Wrap the recorder in ray.tune.Callback (kept out of the class so this module imports without Ray)."""
    from ray.tune import Callback

    class _Recorder(Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            recorder.on_trial_start(iteration, trials, trial, **info)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            recorder.on_trial_result(iteration, trials, trial, result, **info)

        def on_trial_complete(self, iteration, trials, trial, **info):
            recorder.on_trial_complete(iteration, trials, trial, **info)

        def on_trial_error(self, iteration, trials, trial, **info):
            recorder.on_trial_error(iteration, trials, trial, **info)

    return _Recorder()
