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
