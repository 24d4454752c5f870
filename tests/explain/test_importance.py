"""Permutation importance against an independent implementation (scikit-learn's, over a wrapper of
the bundle's scorer, with the same shuffles), the explain.json schema, and the training side."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.inspection import permutation_importance as sklearn_permutation_importance
from tests.explain.conftest import SETTINGS

from framework.data import read_table
from framework.errors import ConfigError, DataError
from framework.explain import EXPLAIN_FILE, ExplainSettings, permutation_importance
from framework.explain._shuffles import shuffle_orders
from framework.monitor.check import seeded_sample
from framework.score import BundleScorer


class ScorerClassifier(ClassifierMixin, BaseEstimator):
    """sklearn's view of a bundle: predict_proba of a DataFrame of some raw columns, the others
    taken from `table` (sklearn shuffles only the columns it is given)."""

    def __init__(self, scorer=None, table=None):
        self.scorer = scorer
        self.table = table

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        table = self.table
        for name in X.columns:
            values = pa.Array.from_pandas(X[name], type=table.schema.field(name).type)
            table = table.set_column(table.schema.get_field_index(name), name, values)
        scores = self.scorer.score(table)
        return np.column_stack([1 - scores, scores])


def _sample(world, rows: int = 1_500):
    scorer = BundleScorer(world.plain)
    return scorer, read_table(world.valid, columns=[*scorer.input_columns, "label"]).slice(0, rows)


def test_the_numbers_are_sklearns_with_the_same_shuffles(world):
    scorer, table = _sample(world)
    columns = ["C1", "I1", "C2", "C4", "C3"]  # string and int categoricals, a cross, a target encoding
    settings = ExplainSettings(repeats=3, seed=11)
    ours = {row["column"]: row for row in permutation_importance(scorer.score, table, "label", columns, settings)["columns"]}
    frame = table.select(columns).to_pandas(types_mapper=pd.ArrowDtype)
    estimator = ScorerClassifier(scorer, table).fit(frame, table["label"].to_numpy())
    theirs = sklearn_permutation_importance(estimator, frame, table["label"].to_numpy(), scoring=["roc_auc", "neg_log_loss"],
                                            n_repeats=settings.repeats, random_state=settings.seed)
    for position, column in enumerate(columns):
        assert ours[column]["importance"] == pytest.approx(theirs["roc_auc"].importances_mean[position], abs=1e-12)
        assert ours[column]["std"] == pytest.approx(theirs["roc_auc"].importances_std[position], abs=1e-12)
        # logloss clips at 1e-7 (sklearn: at float64 eps); no score comes near either
        assert ours[column]["logloss_importance"] == pytest.approx(theirs["neg_log_loss"].importances_mean[position], abs=1e-9)
    assert ours["C1"]["importance"] > 0.01  # the planted effect and the planted interaction


def test_shuffles_are_permutations_repeatable_by_seed():
    orders = shuffle_orders(100, 4, seed=5)
    assert all(sorted(order) == list(range(100)) for order in orders)
    assert len({tuple(order) for order in orders}) == 4
    assert (shuffle_orders(100, 4, seed=5) == orders).all() and not (shuffle_orders(100, 4, seed=6) == orders).all()
    assert (shuffle_orders(100, 2, seed=5) == orders[:2]).all()  # more repeats add shuffles, never change the first


def test_explain_json_schema(world):
    explanation = json.loads((world.bundle / EXPLAIN_FILE).read_text())
    assert explanation["metric"] == "auc" and explanation["repeats"] == SETTINGS.repeats
    assert explanation["rows"] == SETTINGS.max_rows and explanation["seed"] == SETTINGS.seed
    assert set(explanation["baseline"]) == {"auc", "logloss"}
    scorer = BundleScorer(world.bundle)
    rows = explanation["columns"]
    assert sorted(row["column"] for row in rows) == sorted(scorer.input_columns)  # every raw column, nothing else
    for row in rows:
        assert set(row) == {"column", "importance", "std", "logloss_importance", "logloss_std", "inputs"}
        assert all(isinstance(row[key], float) and np.isfinite(row[key]) for key in ("importance", "std", "logloss_importance"))
        assert row["std"] >= 0 and row["logloss_std"] >= 0
    assert [row["importance"] for row in rows] == sorted((row["importance"] for row in rows), reverse=True)
    inputs = {row["column"]: row["inputs"] for row in rows}
    assert sorted(inputs["C1"]) == ["C1", "C1_x_C4"] and sorted(inputs["C4"]) == ["C1_x_C4", "C4"]
    assert sorted(inputs["I1"]) == ["I1", "I1_missing"] and sorted(inputs["C2"]) == ["C2", "C2_te"]
    assert "label" not in inputs and "id" not in inputs


def test_the_bundle_explains_what_its_scorer_computes(world):
    """Training explains the model before it is saved; the saved bundle's scorer gives the same numbers."""
    scorer = BundleScorer(world.bundle)
    valid = read_table(world.valid, columns=[*scorer.input_columns, "label"])
    sample = seeded_sample(valid, SETTINGS.max_rows, SETTINGS.seed)
    again = permutation_importance(scorer.score, sample, "label", scorer.input_columns, SETTINGS)
    stored = json.loads((world.bundle / EXPLAIN_FILE).read_text())
    assert [(r["column"], r["importance"], r["std"], r["logloss_importance"]) for r in again["columns"]] == \
        [(r["column"], r["importance"], r["std"], r["logloss_importance"]) for r in stored["columns"]]
    assert again["baseline"] == stored["baseline"]


def test_the_training_scorer_is_the_bundle_scorer(world):
    from framework.models import load_bundle
    from framework.train.publish import raw_scorer

    loaded = load_bundle(world.plain)
    table = read_table(world.valid)
    assert (raw_scorer(loaded.pipeline, loaded.model)(table) == BundleScorer(world.plain).score(table)).all()


def test_a_disabled_explanation_leaves_the_bundle_without_one(world):
    from framework.models import load_bundle
    from framework.train.publish import explain_documents

    loaded = load_bundle(world.plain)
    assert explain_documents(loaded.pipeline, loaded.model, read_table(world.valid), "label", ExplainSettings(enabled=False)) == {}


def test_bad_labels_and_settings_say_what_to_change(world):
    scorer, table = _sample(world, rows=200)
    one_class = table.set_column(table.schema.get_field_index("label"), "label", pa.array(np.zeros(200, np.int8)))
    with pytest.raises(DataError, match="one class only"):
        permutation_importance(scorer.score, one_class, "label", ["C1"])
    with pytest.raises(DataError, match="no label column 'click'"):
        permutation_importance(scorer.score, table, "click", ["C1"])
    with pytest.raises(ConfigError, match="explain.repeats"):
        ExplainSettings(repeats=0)
    with pytest.raises(ConfigError, match="explain.max_rows"):
        ExplainSettings(max_rows=1)
    section = type("Section", (), {"enabled": False, "max_rows": 10, "repeats": 2})()
    assert ExplainSettings.of(section) == ExplainSettings(enabled=False, max_rows=10, repeats=2, seed=0)
