"""Workload classes: which nodes a job may use, decided from `ray.nodes()`-shaped records (no Ray here).

The multi-node placement of real jobs is tested in tests/cluster/test_workloads.py."""

from __future__ import annotations

import pytest

from framework.errors import ConfigError
from framework.workload import (
    WORKLOAD_CLASSES,
    Placement,
    WorkloadUnplaceable,
    declared_classes,
    node_labels,
    node_resources,
    parse_workloads,
    resolve_placement,
)


def _node(node_id: str, classes=(), alive=True, cpus=2.0) -> dict:
    return {
        "NodeID": node_id * 8,
        "NodeManagerAddress": "10.0.0.1",
        "Alive": alive,
        "Labels": {"ray.io/node-id": node_id, **node_labels(classes)},
        "Resources": {"CPU": cpus, **node_resources(classes)},
    }


def test_a_cluster_that_declares_nothing_runs_every_class_anywhere():
    nodes = [_node("a"), _node("b")]
    for workload in WORKLOAD_CLASSES:
        placement = resolve_placement(workload, nodes=nodes, ceiling=None)
        assert not placement.constrained
        assert placement.remote_args() == {} and placement.tune_resources() == {}
        assert all(placement.accepts(n) for n in nodes)


def test_a_declared_class_is_placed_only_on_the_nodes_that_accept_it():
    score, train, bare = _node("s", ["score", "nightly"]), _node("t", ["train"]), _node("h")
    placement = resolve_placement("score", nodes=[bare, score, train], ceiling=None)
    assert placement.constrained
    assert placement.remote_args() == {"label_selector": {"raylane.io/workload-score": "true"}}
    assert placement.tune_resources() == {"raylane_workload_score": 1.0}
    assert [n["Labels"]["ray.io/node-id"] for n in [bare, score, train] if placement.accepts(n)] == ["s"]


def test_a_class_no_live_node_accepts_fails_fast_naming_the_class_and_the_nodes():
    nodes = [_node("t", ["train"]), _node("h"), _node("x", ["sweep"], alive=False)]
    with pytest.raises(WorkloadUnplaceable) as caught:
        resolve_placement("sweep", nodes=nodes, ceiling={"CPU": 8.0})  # the only sweep node is dead
    message = str(caught.value)
    assert "'sweep'" in message
    assert "tttttttt" in message and "hhhhhhhh" in message and "train" in message and "no class declared" in message
    assert "xxxxxxxx" not in message  # dead nodes are not offered
    assert isinstance(caught.value, ConfigError)


def test_an_autoscaler_that_can_add_a_node_of_the_class_waits_and_says_so():
    lines: list[str] = []
    placement = resolve_placement("serve", nodes=[_node("t", ["train"])],
                                  ceiling={"CPU": 16.0, "raylane_workload_serve": 1000.0}, log=lines.append)
    assert placement == Placement("serve", constrained=True)
    assert len(lines) == 1 and "'serve'" in lines[0] and "autoscaler" in lines[0]


def test_a_node_started_with_only_resources_or_only_labels_still_declares_its_classes():
    assert declared_classes(None, {"CPU": 1.0, "raylane_workload_serve": 1000.0}) == ("serve",)
    assert declared_classes({"raylane.io/workload-train": "true"}, {}) == ("train",)
    assert declared_classes({"raylane.io/workload-train": "false"}, {"CPU": 1.0}) == ()


def test_workload_lists_parse_and_unknown_classes_are_named():
    assert parse_workloads("train, score") == ("train", "score")
    assert parse_workloads("all") == WORKLOAD_CLASSES
    with pytest.raises(ConfigError, match="'scoring'.*train, sweep, score, serve, nightly"):
        parse_workloads("train,scoring")
    with pytest.raises(ConfigError, match="--workloads"):
        parse_workloads(" , ")
    with pytest.raises(ConfigError, match="'gpu'"):
        resolve_placement("gpu", nodes=[], ceiling=None)


def test_every_job_config_defaults_to_its_own_kind_and_rejects_an_unknown_class():
    from framework.config import load_config

    config = "jobs/configs/train_small.yaml"
    assert load_config(config, kind="train")[1].workload == "train"
    assert load_config(config, ["workload=nightly"], kind="train")[1].workload == "nightly"
    with pytest.raises(ConfigError, match="workload"):
        load_config(config, ["workload=batch"], kind="train")

    from framework.monitor.nightly_config import NightlyConfig
    from framework.score.config import ScoreConfig
    from framework.serve.config import ServeConfig
    from framework.tune.config import SweepConfig

    assert ScoreConfig.model_fields["workload"].default == "score"
    assert ServeConfig.model_fields["workload"].default == "serve"
    assert SweepConfig.model_fields["workload"].default == "sweep"
    assert NightlyConfig.model_fields["workload"].default == "nightly"


def test_the_nightly_loop_scores_and_retrains_as_its_own_class(monkeypatch, tmp_path):
    import framework.score
    import framework.train
    from framework.config import validate_mapping
    from framework.monitor import nightly

    seen = {}
    monkeypatch.setattr(framework.score, "run_scoring", lambda cfg, log: seen.setdefault("score", cfg))
    monkeypatch.setattr(framework.train, "run_training",
                        lambda cfg: seen.setdefault("train", cfg) and type("R", (), {"model_version": "2"}))
    mapping = {"model": "ctr@prod", "registry_name": "ctr",
               "score": {"input": str(tmp_path), "output": str(tmp_path / "scores"), "run_date": "2026-01-05"},
               "retrain": {"config": "jobs/configs/train_small.yaml"}, "gate": {"holdout": str(tmp_path)}}
    default = validate_mapping(mapping, kind="nightly")[1]
    nightly._score(default, log=lambda line: None)
    nightly._retrain(default, log=lambda line: None)
    assert seen["score"].workload == "nightly" and seen["train"].workload == "nightly"

    seen.clear()
    on_score_nodes = validate_mapping({**mapping, "workload": "score"}, kind="nightly")[1]
    nightly._score(on_score_nodes, log=lambda line: None)
    nightly._retrain(on_score_nodes, log=lambda line: None)
    assert seen["score"].workload == "score" and seen["train"].workload == "score"


def test_sweep_trials_ask_for_their_class_and_train_as_it():
    from framework.config import load_config
    from framework.tune.runner import _trial_resources
    from framework.tune.trial import TrialPlan

    _, sweep = load_config("jobs/configs/sweep_small.yaml", kind="sweep")
    assert TrialPlan.base_for(sweep)["workload"] == "sweep"
    constrained = _trial_resources(sweep, Placement("sweep", constrained=True))
    assert constrained["raylane_workload_sweep"] == 1.0 and constrained["CPU"] == sweep.resources.trial_cpus()
    assert "raylane_workload_sweep" not in _trial_resources(sweep, Placement("sweep", constrained=False))


def test_serve_replicas_carry_the_label_selector_only_when_constrained():
    from framework.config import load_config
    from framework.serve._deployment import deployment_options

    _, serve = load_config("jobs/configs/serve.yaml", ["model.path=runs/x/bundle"], kind="serve")
    placed = deployment_options(serve, Placement("serve", constrained=True))["ray_actor_options"]
    assert placed["label_selector"] == {"raylane.io/workload-serve": "true"}
    assert placed["num_cpus"] == serve.deployment.num_cpus
    assert "label_selector" not in deployment_options(serve, Placement("serve", constrained=False))["ray_actor_options"]
