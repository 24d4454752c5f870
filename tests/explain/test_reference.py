"""The reference check: on the synthetic data, whose hidden click model is known, the columns it
uses rank above the columns it ignores."""

from __future__ import annotations

import numpy as np
import pytest
from tests.scoring_fakes import generate, make_bundle

from framework.data import read_table
from framework.data._synthetic_spec import CATEGORICAL, INTERACTION, NUMERIC
from framework.explain import ExplainSettings, permutation_importance
from framework.score import BundleScorer

USED = {s.name for s in NUMERIC if s.weight} | {s.name for s in CATEGORICAL if s.effect_scale} | set(INTERACTION)
IGNORED = {s.name for s in CATEGORICAL if not s.effect_scale} - USED


@pytest.mark.slow
def test_the_hidden_models_columns_rank_above_the_ignored_ones(tmp_path):
    # enough rows for three passes of a small DLRM: it learns the planted effects before it overfits
    train = generate(tmp_path / "train", rows=40_000, seed=1)
    valid = generate(tmp_path / "valid", rows=6_000, seed=2, start_date="2026-01-02")
    scorer = BundleScorer(make_bundle(tmp_path / "bundle", train, steps=300))
    table = read_table(valid, columns=[*scorer.input_columns, "label"])
    explanation = permutation_importance(scorer.score, table, "label", scorer.input_columns, ExplainSettings(repeats=2))
    ranked = [row["column"] for row in explanation["columns"]]
    importance = {row["column"]: row["importance"] for row in explanation["columns"]}
    assert set(ranked) == USED | IGNORED
    assert ranked[:2] == ["C1", "C4"] or ranked[:2] == ["C4", "C1"]  # the strongest effect and the planted interaction
    assert set(ranked[:10]) <= USED, ranked
    assert np.mean([importance[n] for n in USED]) > 5 * max(np.mean([importance[n] for n in IGNORED]), 1e-4)
