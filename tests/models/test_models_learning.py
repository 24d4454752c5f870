"""Each built-in model learns a known logistic function of 2 continuous + 1 categorical input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.models.model_fakes import SMALL_CONFIGS, make_problem
from sklearn.metrics import roc_auc_score

from framework.models import build_model, validate_model_config

STEPS = 250
BATCH = 128


def _train(model: torch.nn.Module, continuous: np.ndarray, categorical: np.ndarray, labels: np.ndarray) -> None:
    x, k, y = torch.from_numpy(continuous), torch.from_numpy(categorical), torch.from_numpy(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    order = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(STEPS):
        rows = torch.randint(0, len(y), (BATCH,), generator=order)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[rows], k[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread; more only fight over the 2 shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_model_learns_the_synthetic_problem(name, one_thread):
    train = make_problem(4000, seed=1)
    test = make_problem(2000, seed=2)
    best_possible = roc_auc_score(test[2], test[3])
    assert best_possible > 0.85  # the problem itself is learnable to well above the bar

    model = build_model(validate_model_config(SMALL_CONFIGS[name]), 2, [6], seed=0)
    before = _auc(model, test)
    _train(model, *train[:3])
    after = _auc(model, test)

    assert after > 0.8, f"{name}: AUC {after:.3f} (from {before:.3f}; best possible {best_possible:.3f})"


def _auc(model: torch.nn.Module, problem) -> float:
    continuous, categorical, labels, _ = problem
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(continuous), torch.from_numpy(categorical))
    return roc_auc_score(labels, logits.numpy())
