"""Training data shared by the Ray training tests: generated once per session."""

from __future__ import annotations

import pytest

from framework.data.generate import GenerateRequest, write_synthetic_dataset

TRAIN_ROWS = 240_000
VALID_ROWS = 60_000


@pytest.fixture(scope="session")
def training_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("training-data")
    write_synthetic_dataset(root / "train", GenerateRequest(rows=TRAIN_ROWS, seed=1, days=2, files_per_day=2))
    write_synthetic_dataset(root / "valid", GenerateRequest(rows=VALID_ROWS, seed=2, files_per_day=2))
    return root


@pytest.fixture(scope="session")
def data_overrides(training_data):
    """`key=value` overrides pointing the small training config at the shared data."""
    root = training_data
    return [f"data.train={root / 'train'}", f"data.valid={root / 'valid'}", f"data.contract={root / 'train' / 'contract.yaml'}"]
