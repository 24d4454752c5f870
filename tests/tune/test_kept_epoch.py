"""A trial records the epoch its checkpoint rule keeps: in the study, in best.json and for --retrain-best.

No Ray cluster: Tune's calls are replayed in its own order (tune_controller: the callbacks get each
result and may change it, the trial stores it as its last result, and the searcher is told that last
result when the trial stops), with Ray's real OptunaSearch on the sweep's SQLite study. The expected
values are written out by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from framework.config import apply_overrides, load_config
from framework.tune.kept import KeptEpochRule
from framework.tune.recorder import StudyRecorder, StudyTrials
from framework.tune.results import format_table, trial_rows, write_best
from framework.tune.retrain import retrain_best, retrain_config, retrain_epochs
from framework.tune.study import open_study, rdb_storage, storage_url
from framework.tune.trial import TRIAL_NUMBER_KEY
from tests.tune.conftest import SMALL, data_overrides

pytest.importorskip("ray.tune")


@dataclass
class FakeTuneTrial:
    """The parts of ray.tune's Trial the recorder reads."""

    trial_id: str
    config: dict
    last_result: dict = field(default_factory=dict)
    path: str = "/nowhere"


class ReplayedTune:
    """One trial at a time through the recorder and OptunaSearch, in Tune's order of calls."""

    def __init__(self, cfg, log=None):
        from ray.tune.search.optuna import OptunaSearch

        self.study = open_study(cfg)
        self.lines: list[str] = []
        trials = StudyTrials(cfg.space)
        metrics, modes = [o.metric for o in cfg.objective], [o.mode for o in cfg.objective]
        single = len(metrics) == 1
        self.searcher = OptunaSearch(
            space=trials.define, metric=metrics[0] if single else metrics, mode=modes[0] if single else modes,
            study_name=self.study.study_name, storage=rdb_storage(storage_url(cfg)),
        )
        # the runner's max_epochs: the trials' optim.epochs
        epochs = int(apply_overrides(cfg.base_train_dict(), cfg.trial_overrides)["optim"]["epochs"])
        self.recorder = StudyRecorder(trials, cfg.objective, list(cfg.space), epochs, log=self.lines.append)

    def run(self, trial_id: str, epochs: list[dict], stopped: bool = False) -> FakeTuneTrial:
        """Report `epochs` (1, 2, ...); `stopped`: the scheduler stops the trial at its last one."""
        from ray.tune.utils import flatten_dict

        trial = FakeTuneTrial(trial_id, self.searcher.suggest(trial_id))
        self.recorder.on_trial_start(0, [], trial)
        for epoch, metrics in enumerate(epochs, start=1):
            result = {"epoch": epoch, **metrics, "trial_id": trial_id}
            if stopped and epoch == len(epochs):
                result["done"] = True  # ASHA's STOP marks the result before the callbacks see it
            self.recorder.on_trial_result(0, [], trial, result)
            trial.last_result = result
        self.searcher.on_trial_complete(trial_id, result=flatten_dict(trial.last_result))
        self.recorder.on_trial_complete(0, [], trial)
        return trial


def _study_trial(replay, trial: FakeTuneTrial):
    return replay.study.trials[trial.config[TRIAL_NUMBER_KEY]]


def _sweep(sweep_data, storage, name: str, *overrides: str, train: tuple = ("optim.epochs=2",)):
    """A sweep over the test data; `train`: the rest of its `overrides` list on the base training config."""
    items = [data_overrides(sweep_data, *train), f"run.name={name}", f"run.storage_path={storage}", *overrides]
    return load_config(SMALL, items, kind="sweep")[1]


# The issue's trials: A reached AUC 0.7395 at epoch 1 and 0.717 at epoch 2; B ended better than A
# ended (0.725 > 0.717) but never reached A's best epoch (0.725 < 0.7395).
A = [{"auc": 0.7395, "logloss": 0.52}, {"auc": 0.717, "logloss": 0.50}]
B = [{"auc": 0.70, "logloss": 0.55}, {"auc": 0.725, "logloss": 0.53}]
# AUC is best at epoch 1, logloss at epoch 2
SPLIT = [{"auc": 0.74, "logloss": 0.50}, {"auc": 0.72, "logloss": 0.48}]


@pytest.fixture()
def issue_sweep(sweep_data, tmp_path):
    cfg = _sweep(sweep_data, tmp_path, "kept", "scheduler=none", train=())  # train_small.yaml's 2 epochs
    replay = ReplayedTune(cfg)
    a, b = replay.run("a", A), replay.run("b", B)
    return cfg, replay, _study_trial(replay, a), _study_trial(replay, b)


def test_a_trial_records_its_best_epoch_and_is_ranked_by_it(issue_sweep):
    _, replay, a, b = issue_sweep
    assert a.value == pytest.approx(0.7395) and b.value == pytest.approx(0.725)
    assert replay.study.best_trial.number == a.number
    assert a.user_attrs["history"] == [{"epoch": 1, "auc": 0.7395}, {"epoch": 2, "auc": 0.717}], "per-epoch, as before"
    assert a.user_attrs["metrics"]["auc"] == pytest.approx(0.717), "the last epoch's metrics"
    assert a.user_attrs["kept"] == {"epoch": 1, "auc": 0.7395, "logloss": 0.52}
    assert b.user_attrs["kept"]["epoch"] == 2
    assert any("the study records epoch 1, the kept one: auc 0.7395" in line for line in replay.lines)


def test_tunes_last_result_carries_the_kept_values_and_the_last_epochs_own(sweep_data, tmp_path):
    replay = ReplayedTune(_sweep(sweep_data, tmp_path, "last-result", "scheduler=none"))
    trial = replay.run("a", A)
    assert trial.last_result["auc"] == 0.7395 and trial.last_result["kept_epoch"] == 1
    assert trial.last_result["last_epoch"] == {"auc": 0.717} and trial.last_result["epoch"] == 2
    kept_last = replay.run("b", B)
    assert kept_last.last_result["auc"] == 0.725 and kept_last.last_result["kept_epoch"] == 2
    assert "last_epoch" not in kept_last.last_result


def test_best_json_names_each_trials_kept_epoch(issue_sweep, tmp_path):
    cfg, replay, a, _ = issue_sweep
    summary = write_best(cfg, replay.study, trial_rows(replay.study, cfg), tmp_path / "best.json")
    best = json.loads((tmp_path / "best.json").read_text())["best"]
    assert best["trial"] == a.number and best["values"] == {"auc": pytest.approx(0.7395)}
    assert best["kept_epoch"] == 1 and best["epochs"] == 2 and not best["stopped_early"]
    assert best["kept_metrics"] == {"epoch": 1, "auc": 0.7395, "logloss": 0.52}
    assert summary["kept_by"] == {"metric": "auc", "mode": "max"}
    header, _, *rows = format_table(trial_rows(replay.study, cfg), cfg, summary).splitlines()
    assert header.split()[:4] == ["trial", "state", "epochs", "kept"]
    assert rows[0].split()[:5] == ["*", "0", "COMPLETE", "2", "1"] and rows[0].split()[-1] == "0.7395"
    assert rows[1].split()[:4] == ["1", "COMPLETE", "2", "2"] and rows[1].split()[-1] == "0.725"


def test_a_trial_stopped_by_asha_records_the_best_epoch_it_reached(sweep_data, tmp_path):
    replay = ReplayedTune(_sweep(sweep_data, tmp_path, "stopped", train=("optim.epochs=3",)))  # asha
    trial = _study_trial(replay, replay.run("a", SPLIT, stopped=True))  # stopped after 2 of 3 epochs
    assert trial.value == pytest.approx(0.74) and trial.user_attrs["kept"]["epoch"] == 1
    assert any("(stopped by the scheduler); the study records epoch 1" in line for line in replay.lines)


def test_several_objectives_take_every_value_from_the_epoch_the_checkpoint_keeps(sweep_data, tmp_path):
    objectives = "objective=[{metric: auc, mode: max}, {metric: logloss, mode: min}]"
    replay = ReplayedTune(_sweep(sweep_data, tmp_path, "multi", objectives, "scheduler=none"))
    # epoch 2 has the better logloss, but the checkpoint (auc, max) keeps epoch 1: both values are epoch 1's
    trial = _study_trial(replay, replay.run("a", SPLIT))
    assert trial.values == [pytest.approx(0.74), pytest.approx(0.50)]


def test_an_objective_other_than_the_checkpoint_metric_is_read_at_the_kept_epoch(sweep_data, tmp_path):
    cfg = _sweep(sweep_data, tmp_path, "logloss", "objective=[{metric: logloss, mode: min}]", "scheduler=none")
    replay = ReplayedTune(cfg)
    trial = _study_trial(replay, replay.run("a", SPLIT))
    assert trial.value == pytest.approx(0.50), "epoch 2's 0.48 belongs to a checkpoint that was not kept"


def test_the_checkpoint_rule_is_the_trials_own(sweep_data, tmp_path):
    cfg = _sweep(sweep_data, tmp_path, "by-logloss", "scheduler=none",
                 train=("optim.epochs=2", "run.checkpoint.metric=logloss", "run.checkpoint.mode=min"))
    assert KeptEpochRule.of_sweep(cfg) == KeptEpochRule("logloss", "min")
    assert KeptEpochRule.of_study(open_study(cfg)) == KeptEpochRule("logloss", "min"), "open_study records it"
    replay = ReplayedTune(cfg)
    trial = _study_trial(replay, replay.run("a", SPLIT))
    assert trial.value == pytest.approx(0.72) and trial.user_attrs["kept"]["epoch"] == 2
    for_trials = "trial_overrides=[run.checkpoint.mode=min, run.checkpoint.metric=logloss]"
    assert KeptEpochRule.of_sweep(_sweep(sweep_data, tmp_path, "trial-rule", for_trials)) == KeptEpochRule("logloss", "min")


@pytest.mark.parametrize(
    ("rule", "epochs", "expected"),
    [
        (("logloss", "min"), [{"epoch": 1, "logloss": 0.5}, {"epoch": 2, "logloss": 0.4}, {"epoch": 3, "logloss": 0.45}], 2),
        (("auc", "max"), [{"epoch": 1, "auc": 0.7}, {"epoch": 2, "auc": 0.7}, {"epoch": 3, "auc": 0.6}], 1),  # ties: the earliest
        (("auc", "max"), [{"epoch": 1}, {"epoch": 2, "auc": 0.6}, {"epoch": 3}], 2),  # epochs without the metric: never kept
        (("auc", "max"), [{"epoch": 1, "auc": float("nan")}, {"epoch": 2, "auc": 0.5}], 2),
        (("auc", "max"), [{"epoch": 1, "logloss": 0.5}, {"epoch": 2, "logloss": 0.4}], 2),  # none has it: the last
        # a repeated epoch (a worker failure trained it again) counts with its last report
        (("auc", "max"), [{"epoch": 1, "auc": 0.7}, {"epoch": 2, "auc": 0.8}, {"epoch": 2, "auc": 0.6}], 1),
    ],
)
def test_kept_epoch_edge_cases(rule, epochs, expected):
    assert KeptEpochRule(*rule).kept(epochs)["epoch"] == expected


def test_pbt_tells_the_study_the_kept_values(sweep_data, tmp_path):
    cfg = _sweep(sweep_data, tmp_path, "pbt", "scheduler=none")
    study = open_study(cfg)
    trials = StudyTrials(cfg.space)
    asked = study.ask()
    trials.adopt(asked)
    from framework.tune.space import suggest_params

    config = {**suggest_params(asked, cfg.space), TRIAL_NUMBER_KEY: asked.number}
    recorder = StudyRecorder(trials, cfg.objective, list(cfg.space), 2, study=study, log=lambda line: None)
    trial = FakeTuneTrial("p", config)
    recorder.on_trial_start(0, [], trial)
    for epoch, metrics in enumerate(A, start=1):
        trial.last_result = {"epoch": epoch, **metrics}
        recorder.on_trial_result(0, [], trial, trial.last_result)
    recorder.on_trial_complete(0, [], trial)
    assert study.trials[asked.number].value == pytest.approx(0.7395)


# --retrain-best: the kept epoch count, unless the sweep config sets retrain_epochs


def _best(cfg, replay, tmp_path) -> dict:
    return write_best(cfg, replay.study, trial_rows(replay.study, cfg), tmp_path / "best.json")["best"]


def test_retrain_trains_for_the_best_trials_kept_epochs(issue_sweep, tmp_path):
    cfg, replay, _, _ = issue_sweep
    best = _best(cfg, replay, tmp_path)
    assert retrain_config(cfg, best).optim.epochs == 1
    epochs, why = retrain_epochs(cfg, best)
    assert epochs == 1 and why.startswith("trial 0 kept epoch 1 of the 2 it trained (its highest auc")


def test_retrain_best_prints_its_epochs_and_records_them(issue_sweep, tmp_path, monkeypatch):
    cfg, replay, _, _ = issue_sweep
    summary = write_best(cfg, replay.study, trial_rows(replay.study, cfg), tmp_path / "best.json")
    trained = []

    class Trained:
        bundle, metrics = tmp_path / "bundle", {"best": {"auc": 0.74}}

    monkeypatch.setattr("framework.train.run_training", lambda train_cfg: trained.append(train_cfg) or Trained())
    lines = []
    retrained = retrain_best(cfg, summary, tmp_path / "best.json", log=lines.append)
    assert [c.optim.epochs for c in trained] == [1] and retrained["epochs"] == 1
    assert len(lines) == 1 and lines[0].startswith("[sweep] --retrain-best trains 1 epoch(s): trial 0 kept epoch 1")
    assert json.loads((tmp_path / "best.json").read_text())["retrained"]["epochs"] == 1


@pytest.mark.parametrize(
    ("name", "overrides", "train", "expected", "reason"),
    [
        # every trial trains 2 epochs and keeps the first
        ("in-overrides", (), ("optim.epochs=2",), 1, "trial 0 kept epoch 1 of the 2 it trained"),  # a budget
        ("searched", ("space={optim.lr: {loguniform: [1.0e-4, 1.0e-2]}, model.embedding_dim: {categorical: [8]}, "
                      "optim.epochs: {categorical: [2]}}",), (), 1, "trial 0 kept epoch 1 of the 2 it trained"),
        ("retrain-epochs", ("retrain_epochs=3",), (), 3, "retrain_epochs=3 is set in the sweep config (trial 0 kept epoch 1)"),
        ("trial-overrides", ("trial_overrides=[optim.epochs=2]",), (), 2, "the base config's optim.epochs; trial_overrides"),
    ],
)
def test_retrain_epochs_for_each_way_of_setting_the_count(sweep_data, tmp_path, name, overrides, train, expected, reason):
    cfg = _sweep(sweep_data, tmp_path, name, "scheduler=none", *overrides, train=train)
    replay = ReplayedTune(cfg)
    replay.run("a", A)  # keeps epoch 1
    best = _best(cfg, replay, tmp_path)
    assert best["kept_epoch"] == 1
    assert retrain_config(cfg, best).optim.epochs == expected
    assert reason in retrain_epochs(cfg, best)[1]


def test_retrain_of_a_study_without_kept_epochs_uses_the_config(issue_sweep, tmp_path):
    cfg, replay, _, _ = issue_sweep
    best = {**_best(cfg, replay, tmp_path), "kept_epoch": None}  # recorded before raylane kept epochs
    assert retrain_epochs(cfg, best) == (2, "the config's optim.epochs; the study records no kept epoch for trial 0")
