"""The scoring world of these tests: a real bundle and one held-out day, built once per session.

`I1` is stored as float64 in both the training data and the contract, so that non-finite model
inputs (±inf) can occur in valid input; everything else is what `raylane data generate` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.scoring_fakes import generate, make_bundle

from framework.data import list_parquet_files, load_contract, read_table, save_contract
from framework.config import validate_mapping
from framework.data.generate import CONTRACT_FILE
from framework.score import ScoreConfig

RUN_DATE = "2026-02-01"
DAY_FILES = 8


def store_as_float(directory: Path, column: str = "I1") -> None:
    """Rewrite `column` as float64 in every file and in the contract (same values, same row groups)."""
    for path in list_parquet_files(directory).paths:
        table = pq.read_table(path)
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, table.column(column).cast(pa.float64()))
        pq.write_table(table, path, row_group_size=1 << 20)
    contract = load_contract(directory / CONTRACT_FILE)
    contract.column(column).type = "float64"
    save_contract(contract, directory / CONTRACT_FILE)


@dataclass(frozen=True)
class World:
    root: Path
    bundle: Path
    day: Path
    rows: int

    def config(self, output: Path, **overrides) -> ScoreConfig:
        """Small chunks (five per file), so every task writes several files and a kill lands mid-task."""
        values = {
            "model": str(self.bundle),
            "input": str(self.day),
            "output": str(output),
            "run_date": RUN_DATE,
            "passthrough": ["event_date", "label"],
            "batch": {"rows": 1024, "predict_rows": 512},
            "progress_every_s": 0.5,
        }
        return validate_mapping({**values, **overrides}, kind="score", source="test")[1]

    def input_table(self):
        """The whole day, hive columns typed as the contract says (event_date: date32)."""
        return read_table(self.day, partition_types=load_contract(self.day / CONTRACT_FILE).arrow_schema())


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("score_world")
    train = generate(root / "train", rows=20_000, seed=1)
    store_as_float(train)
    valid = generate(root / "valid", rows=10_000, seed=2, start_date="2026-01-02")
    store_as_float(valid)
    bundle = make_bundle(root / "bundle", train, profile_data=valid)  # profiled on held-out rows, as training does
    day = generate(root / "day", rows=40_000, seed=5, start_date=RUN_DATE, files_per_day=DAY_FILES)
    store_as_float(day)
    return World(root, bundle, day, 40_000)


@pytest.fixture(scope="session")
def committed(world, ray_cluster, tmp_path_factory):
    """One uninterrupted run with the default test settings: the reference of every Ray test."""
    from framework.score import run_scoring

    return run_scoring(world.config(tmp_path_factory.mktemp("committed")))
