"""best.json and the table against an independent NumPy reading of the same trials."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from framework.tune.results import best_entries, format_table, trial_rows, write_best
from framework.tune.study import open_study

DISTRIBUTIONS = {"optim.lr": FloatDistribution(1e-4, 1e-2, log=True), "model.embedding_dim": CategoricalDistribution([8, 16, 32])}


def _add(study, rng, n, objectives):
    rows = []
    for _ in range(n):
        params = {"optim.lr": float(rng.uniform(1e-4, 1e-2)), "model.embedding_dim": int(rng.choice([8, 16, 32]))}
        values = [float(rng.uniform(0.6, 0.75)), float(rng.integers(10_000, 90_000))][:objectives]
        epochs = int(rng.integers(1, 4))
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=DISTRIBUTIONS, values=values,
                user_attrs={"metrics": {"epoch": epochs, "auc": values[0]}, "tune_trial_id": f"t{len(rows)}"},
            )
        )
        rows.append(values)
    return np.array(rows)


def _pareto_reference(values: np.ndarray) -> set[int]:
    """Non-dominated rows for (maximise column 0, minimise column 1), by brute force."""
    front = set()
    for i, (auc, params) in enumerate(values):
        dominated = any(
            (a >= auc and p <= params) and (a > auc or p < params) for j, (a, p) in enumerate(values) if j != i
        )
        if not dominated:
            front.add(i)
    return front


def test_single_objective_best_is_the_argmax(make_sweep, tmp_path):
    cfg = make_sweep("results-one", epochs=3)
    study = open_study(cfg)
    values = _add(study, np.random.default_rng(0), 12, objectives=1)
    rows = trial_rows(study, cfg)
    summary = write_best(cfg, study, rows, tmp_path / "best.json")
    assert summary["best"]["trial"] == int(np.argmax(values[:, 0]))
    assert summary["best"]["values"]["auc"] == pytest.approx(values[:, 0].max())
    assert summary["best"]["train_config"]["optim"]["lr"] == summary["best"]["params"]["optim.lr"]
    assert summary["trials"]["stopped_early"] == sum(r.metrics["epoch"] < 3 for r in rows)
    assert json.loads((tmp_path / "best.json").read_text()) == summary
    table = format_table(rows, cfg, summary).splitlines()
    assert len(table) == 2 + 12
    marked = [line for line in table[2:] if line.startswith("*")]
    assert len(marked) == 1 and marked[0].split()[1] == str(summary["best"]["trial"])


def test_multi_objective_best_json_holds_the_pareto_front(make_sweep, tmp_path):
    cfg = make_sweep("results-multi", "objective=[{metric: auc, mode: max}, {metric: num_params, mode: min}]", "scheduler=none")
    study = open_study(cfg)
    values = _add(study, np.random.default_rng(3), 20, objectives=2)
    summary = write_best(cfg, study, trial_rows(study, cfg), tmp_path / "best.json")
    front = [entry["trial"] for entry in summary["pareto_front"]]
    assert set(front) == _pareto_reference(values) and len(front) >= 2
    aucs = [values[n, 0] for n in front]
    assert aucs == sorted(aucs, reverse=True), "the front is ordered by the first objective"
    assert summary["best"]["trial"] == front[0] == best_entries(study, cfg)[0]
