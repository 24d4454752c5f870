"""The sample `raylane explain` reads (row groups holding picked rows only) is the sample training
explains on: `seeded_sample(read_table(...))`, row for row. Ray reads the plan's entries; here they
are read in this process."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework.data import list_parquet_files, read_table
from framework.explain._sample import ROW_COLUMN, read_picked, sample_plan
from framework.monitor.check import seeded_sample

COLUMNS = ["I1", "C2", "C3", "label", "event_date"]  # event_date is a hive partition column


@pytest.fixture(scope="module")
def small_groups(world, tmp_path_factory):
    """The validation data again, in row groups of 97 rows (so picks land in some groups, not all)."""
    root = tmp_path_factory.mktemp("groups") / "valid"
    shutil.copytree(world.valid, root)
    for path in list_parquet_files(root).paths:
        pq.write_table(pq.read_table(path), path, row_group_size=97)
    return root


def _read_plan(files, rows: int, seed: int) -> pa.Table:
    pieces = [read_picked(entry, files, COLUMNS) for entry in sample_plan(files, rows, seed)]
    return pa.concat_tables(pieces).sort_by(ROW_COLUMN).drop_columns([ROW_COLUMN])


@pytest.mark.parametrize(("rows", "seed"), [(500, 0), (1_234, 7), (10_000, 0)])
def test_the_plan_reads_the_seeded_sample(small_groups, rows, seed):
    files = list_parquet_files(small_groups)
    assert len(files.paths) == 3 and pq.ParquetFile(files.paths[0]).metadata.num_row_groups > 5
    expected = seeded_sample(read_table(files, columns=COLUMNS), rows, seed)
    assert _read_plan(files, rows, seed).equals(expected)


def test_only_row_groups_with_picked_rows_are_read(small_groups):
    files = list_parquet_files(small_groups)
    plan = sample_plan(files, 20, seed=1)
    groups = sum(pq.ParquetFile(p).metadata.num_row_groups for p in files.paths)
    assert sum(len(entry["row_groups"]) for entry in plan) <= 20 < groups
    assert sum(len(entry["rows"]) for entry in plan) == 20
