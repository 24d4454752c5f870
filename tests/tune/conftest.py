"""Small synthetic data shared by the sweep tests, and a builder of sweep configs over it."""

from __future__ import annotations

import pytest

from framework.config import load_config
from framework.data.generate import GenerateRequest, write_synthetic_dataset

SMALL = "jobs/configs/sweep_small.yaml"


@pytest.fixture(scope="session")
def sweep_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-data")
    write_synthetic_dataset(root / "train", GenerateRequest(rows=20_000, seed=1, files_per_day=1))
    write_synthetic_dataset(root / "valid", GenerateRequest(rows=5_000, seed=2, start_date="2026-01-02", files_per_day=1))
    write_synthetic_dataset(root / "sample", GenerateRequest(rows=8_000, seed=3, files_per_day=1))  # trial_overrides
    return root


def data_overrides(root, *extra: str) -> str:
    """The sweep's `overrides` list pointing the base training config at the test data."""
    items = [f"data.train={root / 'train'}", f"data.valid={root / 'valid'}", f"data.contract={root / 'train' / 'contract.yaml'}", *extra]
    return "overrides=[" + ",".join(items) + "]"


def sweep_config(data_root, storage, name: str, *overrides: str, epochs: int = 2, config: str = SMALL):
    """A SweepConfig of `config` over the test data, stored under `storage`."""
    base = [data_overrides(data_root, f"optim.epochs={epochs}"), f"run.name={name}", f"run.storage_path={storage}"]
    return load_config(config, [*base, *overrides], kind="sweep")[1]


@pytest.fixture()
def make_sweep(sweep_data, tmp_path):
    """make_sweep(name, *overrides, epochs=2) -> SweepConfig over the test data, stored under tmp_path."""

    def build(name: str, *overrides: str, epochs: int = 2, storage=None, config: str = SMALL):
        return sweep_config(sweep_data, storage or tmp_path, name, *overrides, epochs=epochs, config=config)

    return build
