"""Sweep configs: the shipped ones load, bad ones fail with one clear message naming the field."""

from __future__ import annotations

import copy

import pytest
import yaml

from framework.cli import main as cli_main
from framework.config import load_config, validate_mapping
from framework.errors import ConfigError
from framework.tune.space import trial_train_dict

GOOD = {
    "base": "jobs/configs/train_small.yaml",
    "space": {"optim.lr": {"loguniform": [1.0e-4, 1.0e-2]}, "model.embedding_dim": {"categorical": [8, 16, 32]}},
    "tied": {"model.bottom_mlp.-1": "model.embedding_dim"},
    "objective": [{"metric": "auc", "mode": "max"}],
    "sampler": "tpe",
    "scheduler": {"name": "asha", "grace_period": 1},
    "num_samples": 8,
    "max_concurrent_trials": 1,
    "run": {"name": "sweep-small", "storage_path": "runs"},
}


def _validate(change):
    mapping = copy.deepcopy(GOOD)
    change(mapping)
    return validate_mapping(mapping, None, "sweep.yaml")[1]


@pytest.mark.parametrize("path", ["jobs/configs/sweep_small.yaml", "jobs/configs/sweep_multi.yaml"])
def test_shipped_configs_are_detected_and_valid(path):
    kind, cfg = load_config(path)
    assert kind == "sweep"
    assert cfg.num_samples >= 4 and cfg.space


def test_the_issue_shape_is_accepted_and_defaults_follow_the_objectives():
    cfg = _validate(lambda m: None)
    assert cfg.scheduler.name == "asha" and cfg.sampler.name == "tpe" and not cfg.is_multi_objective
    multi = _validate(lambda m: (m["objective"].append({"metric": "num_params", "mode": "min"}), m.pop("scheduler")))
    assert multi.is_multi_objective and multi.scheduler.name == "none"


def test_tied_keys_follow_the_searched_value():
    cfg = _validate(lambda m: None)
    trial = trial_train_dict(cfg.base_train_dict(), {"optim.lr": 0.003, "model.embedding_dim": 32}, cfg.tied)
    assert trial["model"]["embedding_dim"] == 32 and trial["model"]["bottom_mlp"] == [64, 32]
    assert trial["optim"]["lr"] == 0.003
    assert cfg.base_train_dict()["model"]["bottom_mlp"] == [64, 16], "the base is not modified"


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda m: m["space"].update({"optim.lrr": {"uniform": [0.0, 1.0]}}), "space.optim.lrr: not a key of the training config"),
        (lambda m: m["space"].update({"model.embeding_dim": {"int": [4, 8]}}), "space.model.embeding_dim: not a key of the training config"),
        (lambda m: m["space"].update({"optimizer.lr": {"uniform": [0.0, 1.0]}}), "space.optimizer.lr: not a key of the training config; the top level has"),
        (lambda m: m["space"].update({"run.name": {"categorical": ["a"]}}), "space.run.name: data, scaling, run.name and run.storage_path are set by the sweep"),
    ],
    ids=["optim-typo", "model-typo", "unknown-section", "reserved"],
)
def test_an_unknown_key_in_the_space_is_named(change, expected):
    with pytest.raises(ConfigError) as error:
        _validate(change)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    "distribution, expected",
    [
        ({"logunifrom": [1e-4, 1e-2]}, "unknown distribution 'logunifrom'; expected one of uniform, loguniform, int, categorical"),
        ({"loguniform": [0.0, 1e-2]}, "loguniform needs 0 < low"),
        ({"uniform": [0.5, 0.1]}, "uniform needs [low, high] with low < high"),
        ({"uniform": [0.1, 0.5], "categorical": [1]}, "expected exactly one of"),
        ({"categorical": []}, "categorical needs at least one choice"),
        ({"int": [1, 8], "step": 0.5}, "int needs a whole step"),
        ("loguniform", "expected a mapping such as"),
    ],
)
def test_a_bad_distribution_is_explained(distribution, expected):
    with pytest.raises(ConfigError) as error:
        _validate(lambda m: m["space"].update({"optim.lr": distribution}))
    assert "space.optim.lr" in str(error.value) and expected in str(error.value)


def test_a_value_the_training_config_rejects_is_named_with_the_value():
    with pytest.raises(ConfigError, match=r"space.optim.lr = -0.1 is not a valid training config: optim.lr: got -0.1"):
        _validate(lambda m: m["space"].update({"optim.lr": {"uniform": [-0.1, 0.1]}}))
    with pytest.raises(ConfigError, match=r"(?s)space.model.embedding_dim = 8 .*bottom_mlp size \(16\) must equal embedding_dim \(8\)"):
        _validate(lambda m: m.pop("tied"))


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda m: m["objective"][0].pop("mode"), "objective.0.mode: required field is missing"),
        (lambda m: m["objective"][0].update(mode="maximise"), "objective.0.mode: got 'maximise'; expected one of 'max' or 'min'"),
        (lambda m: m["objective"][0].update(metric="accuracy"), "unknown metric 'accuracy'; trials report auc, logloss"),
        (lambda m: m["objective"].append({"metric": "auc", "mode": "max"}), "each metric may appear once"),
        (lambda m: m["objective"].append({"metric": "num_params", "mode": "min"}), "scheduler asha needs a single objective"),
    ],
)
def test_objective_problems_are_explained(change, expected):
    with pytest.raises(ConfigError) as error:
        _validate(change)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda m: m.update(sampler="cmaes"), "cmaes stores its optimizer state as pickles in the study database"),
        (lambda m: m.update(sampler="grid"), "sampler.name: got 'grid'; expected one of 'tpe', 'random', 'cmaes' or 'qmc'"),
        (lambda m: m.update(scheduler={"name": "pbt", "grace_period": 2}), "grace_period do not apply to scheduler pbt"),
        (lambda m: m.update(scheduler="pbt", resources={"workers_per_trial": 1}), "scheduler pbt needs resources.workers_per_trial: 0"),
        (lambda m: m.update(scheduler={"name": "pbt", "mutate": ["model.embedding_dim"]}), "pbt can only mutate optim.* keys"),
        (lambda m: (m.pop("base"), m.update(train=None)), "give exactly one of `base`"),
        (lambda m: m.update(base="jobs/configs/nope.yaml"), "nope.yaml: no such file"),
        (lambda m: m.update(num_samples=0), "num_samples: got 0; input should be greater than or equal to 1"),
    ],
)
def test_other_problems_are_explained(change, expected):
    with pytest.raises(ConfigError) as error:
        _validate(change)
    assert expected in str(error.value)


def test_cmaes_is_accepted_when_opted_in():
    cfg = _validate(lambda m: m.update(sampler={"name": "cmaes", "allow_pickle": True}))
    assert cfg.sampler.allow_pickle


def test_the_cli_prints_one_error_line_and_no_traceback(tmp_path, capsys):
    bad = copy.deepcopy(GOOD)
    bad["space"]["optim.lr"] = {"loguniform": [0.0, 1.0]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert cli_main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "space.optim.lr" in err and "Traceback" not in err
