"""The model card: per-slice AUC and calibration against scikit-learn, the worst slice marked."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

from framework.registry.card import model_card, slice_metrics


def _table(rows: int = 3_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2])
    labels = (rng.random(rows) < 0.3).astype(np.int8)
    signal = np.where(group == "c", 0.05, 1.0)  # slice c: nearly random scores
    scores = np.clip(0.3 + signal * (labels - 0.3) * 0.4 + rng.normal(0, 0.15, rows), 0.01, 0.99)
    group = group.astype(object)
    group[:7] = None
    return pa.table({"C1": pa.array(group, pa.string()), "label": labels}), scores


def test_slices_match_sklearn_and_the_worst_is_marked():
    table, scores = _table()
    slices = slice_metrics(table, scores, "label", ["C1"])
    by_value = {row["value"]: row for row in slices["C1"]}
    assert set(by_value) == {"a", "b", "c"}  # nulls are not a slice
    column = table["C1"].to_numpy(zero_copy_only=False)
    labels = table["label"].to_numpy()
    for value, row in by_value.items():
        mask = column == value
        assert row["rows"] == mask.sum()
        assert row["auc"] == pytest.approx(roc_auc_score(labels[mask], scores[mask]), abs=1e-12)
        assert row["calibration"] == pytest.approx(scores[mask].mean() / labels[mask].mean())
    card = model_card("ctr", {"optim": {"lr": 0.1}}, {"best": {"auc": 0.7, "epoch": 2}},
                      {"data": {"train": {"rows": 10, "files": 1, "hash": "ab" * 32}}, "config_hash": "cd" * 32, "seed": 0},
                      slices, intended_use="Ranking ads.", limitations="Not for credit decisions.")
    worst_line = next(line for line in card.splitlines() if "**worst**" in line)
    assert worst_line.startswith("| `c`")
    assert "Ranking ads." in card and "Not for credit decisions." in card and '"lr": 0.1' in card


def test_fairness_summary_gives_the_widest_gaps_between_slices():
    from framework.registry.card import fairness_summary

    table, scores = _table()
    slices = slice_metrics(table, scores, "label", ["C1"])
    rows = {row["value"]: row for row in slices["C1"]}
    summary = fairness_summary(slices)["C1"]
    aucs = {value: row["auc"] for value, row in rows.items()}
    biases = {value: row["mean_prediction"] - row["click_rate"] for value, row in rows.items()}
    assert summary["slices"] == 3
    assert summary["auc"]["gap"] == pytest.approx(max(aucs.values()) - min(aucs.values()), abs=1e-12)
    assert summary["auc"]["low"] == "c" == min(aucs, key=aucs.get) and summary["auc"]["high"] == max(aucs, key=aucs.get)
    assert summary["bias"]["gap"] == pytest.approx(max(biases.values()) - min(biases.values()), abs=1e-12)
    assert (summary["bias"]["low"], summary["bias"]["high"]) == (min(biases, key=biases.get), max(biases, key=biases.get))
    assert fairness_summary({"C4": slices["C1"][:1]}) == {"C4": None}  # one slice: no gap to show
    card = model_card("ctr", {}, {}, {}, slices)
    section = card.split("## Fairness summary")[1].split("##")[0]
    assert f"| `C1` | 3 | {summary['auc']['gap']:.4f} | `c` < `{summary['auc']['high']}` |" in section


def test_the_card_lists_the_importances():
    importance = {"metric": "auc", "repeats": 3, "rows": 5000, "seed": 0, "baseline": {"auc": 0.71, "logloss": 0.52},
                  "columns": [{"column": "C1", "importance": 0.0612, "std": 0.002, "logloss_importance": 0.031,
                               "logloss_std": 0.001, "inputs": ["C1", "C1_x_C4"]}]}
    card = model_card("ctr", {}, {}, {}, {}, importance=importance)
    assert "| `C1` | 0.06120 | 0.00200 | 0.03100 | `C1`, `C1_x_C4` |" in card
    assert "5,000 validation rows" in card and "3 shuffle(s)" in card
    assert "Not computed for this model" in model_card("ctr", {}, {}, {}, {})
