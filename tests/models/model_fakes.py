"""Small configs and a tiny synthetic problem for the model tests (the one place these fakes live).

A plain module, not conftest.py, so test files can import it by a name no other test folder uses.
"""

from __future__ import annotations

import numpy as np
import torch

# Small versions of each built-in, so a few hundred steps on 2 cores take about a second.
SMALL_CONFIGS = {
    "mlp": {"name": "mlp", "embedding_dim": 4, "hidden": [16, 8]},
    "dlrm": {"name": "dlrm", "embedding_dim": 4, "bottom_mlp": [8, 4], "top_mlp": [16, 8]},
    "dcn_v2": {"name": "dcn_v2", "embedding_dim": 4, "cross_layers": 2, "deep": [16, 8]},
    "dcn_v2_stacked": {"name": "dcn_v2", "embedding_dim": 4, "cross_layers": 2, "deep": [16], "structure": "stacked"},
}

CATEGORY_EFFECTS = np.array([0.0, 1.5, -1.5, 0.5, -0.5, 2.0])  # index 0 = missing


def make_problem(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(continuous [rows, 2], categorical [rows, 1], labels, true logits) from a known logistic model."""
    rng = np.random.default_rng(seed)
    continuous = rng.normal(size=(rows, 2)).astype(np.float32)
    categorical = rng.integers(0, len(CATEGORY_EFFECTS), size=(rows, 1)).astype(np.int64)
    logits = 2.0 * continuous[:, 0] - 1.5 * continuous[:, 1] + CATEGORY_EFFECTS[categorical[:, 0]]
    labels = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    return continuous, categorical, labels, logits


def random_batch(rows: int, num_continuous: int, cardinalities: list[int], seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    continuous = torch.randn(rows, num_continuous, generator=generator)
    categorical = torch.stack(
        [torch.randint(0, c, (rows,), generator=generator) for c in cardinalities], dim=1
    ) if cardinalities else torch.zeros(rows, 0, dtype=torch.long)
    return continuous, categorical


def save_small_bundle(directory, config: dict | None = None, seed: int = 0, **overrides):
    """A bundle of a small seeded model over 2 continuous + 2 categorical columns; returns (path, model)."""
    from framework.models import build_model, save_bundle, validate_model_config

    model_config = validate_model_config(config or {"name": "dlrm", "embedding_dim": 4, "bottom_mlp": [8, 4]})
    model = build_model(model_config, 2, [6, 3], seed=seed).eval()
    arguments = {
        "model": model,
        "model_config": model_config,
        "continuous_columns": ["I1", "I2"],
        "categorical_columns": ["C1", "C2"],
        "cardinalities": [6, 3],
        "metrics": {"auc": 0.75, "logloss": 0.5},
        "lineage": {"run_id": "run-1", "data": "data/train/*.parquet"},
        "contract_path_or_text": "columns:\n  I1: float64\n",
        **overrides,
    }
    return save_bundle(directory, **arguments), model


def bundle_inputs(rows: int = 9, seed: int = 3):
    """Inputs that fit `save_small_bundle`: continuous [rows, 2], categorical [rows, 2] (NumPy)."""
    rng = np.random.default_rng(seed)
    continuous = rng.normal(size=(rows, 2)).astype(np.float32)
    categorical = np.stack([rng.integers(0, 6, rows), rng.integers(0, 3, rows)], axis=1).astype(np.int64)
    return continuous, categorical
