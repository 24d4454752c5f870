import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from framework.metrics import roc_auc


@pytest.mark.parametrize("seed", range(4))
def test_roc_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 2_000)
    scores = np.round(rng.random(2_000) + labels * 0.3, 1)  # many ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_roc_auc_is_nan_for_one_class():
    assert np.isnan(roc_auc(np.ones(5), np.arange(5.0)))
