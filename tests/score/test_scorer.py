"""BundleScorer: raw rows in, the bundle's pipeline and model applied, same score as by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.scoring_fakes import generate, make_bundle

from framework.data import read_table
from framework.errors import ArtifactError, DataError
from framework.score import BundleScorer


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("scorer")
    train = generate(root / "train", rows=20_000, seed=1)
    bundle = make_bundle(root / "bundle", train)
    return BundleScorer(bundle), generate(root / "day", rows=3_000, seed=5, start_date="2026-02-01")


def test_scores_equal_pipeline_then_model_by_hand(scored):
    scorer, day = scored
    table = read_table(day)
    transformed = scorer.bundle.pipeline.transform(table)  # the Arrow form, independent of model_inputs
    continuous = np.stack([transformed[c].to_numpy(zero_copy_only=False) for c in scorer.bundle.continuous_columns], axis=1)
    continuous = np.nan_to_num(continuous.astype(np.float32), nan=0.0)
    categorical = np.stack([transformed[c].to_numpy() for c in scorer.bundle.categorical_columns], axis=1)
    with torch.no_grad():
        logits = scorer.bundle.model(torch.from_numpy(continuous), torch.from_numpy(categorical.astype(np.int64)))
    expected = torch.sigmoid(logits.double()).numpy()

    scores = scorer.score(table)
    assert scores.shape == (table.num_rows,) and scores.dtype == np.float64
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert scores.std() > 0.01  # a trained model, not a constant


def test_label_is_not_needed_to_score(scored):
    scorer, day = scored
    table = read_table(day)
    without = table.drop_columns(["label", "id", "p_true"])
    np.testing.assert_array_equal(scorer.score(without), scorer.score(table))
    assert "label" not in scorer.input_columns and "C1" in scorer.input_columns


def test_identity_is_the_bundle_content_hash(scored):
    scorer, _ = scored
    assert scorer.identity.name == "scoring-fake"
    assert scorer.identity.version == f"bundle-{scorer.identity.sha256[:12]}"
    assert len(scorer.identity.sha256) == 64


def test_missing_input_column_names_it(scored):
    scorer, day = scored
    with pytest.raises(DataError, match="I3"):
        scorer.score(read_table(day).drop_columns(["I3"]))


def test_model_reference_errors(tmp_path):
    with pytest.raises(ArtifactError, match="no such directory"):
        BundleScorer(tmp_path / "nope")
    with pytest.raises(ArtifactError, match="not in the registry"):
        BundleScorer("ctr@prod")  # a reference, but the (empty, private) registry has no such model
