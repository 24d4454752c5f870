"""The one Parquet reader: files, directories, globs, hive partitions."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework.data import list_parquet_files, read_table
from framework.errors import DataError


@pytest.fixture()
def dataset(tmp_path):
    for day in ("2026-01-01", "2026-01-02"):
        directory = tmp_path / f"event_date={day}"
        directory.mkdir()
        for part in range(2):
            pq.write_table(pa.table({"x": [part, part + 10]}), directory / f"part-{part}.parquet")
    (tmp_path / "contract.yaml").write_text("columns: []\n")
    (tmp_path / "_SUCCESS").write_text("")
    return tmp_path


def test_directory_glob_and_list_resolve_to_the_same_files(dataset):
    by_dir = list_parquet_files(dataset).paths
    assert len(by_dir) == 4 and all(p.endswith(".parquet") for p in by_dir)
    assert list_parquet_files(str(dataset / "*" / "*.parquet")).paths == by_dir
    assert list_parquet_files([str(dataset / "event_date=2026-01-01"), str(dataset / "event_date=2026-01-02")]).paths == by_dir


def test_read_table_adds_typed_partition_columns(dataset):
    table = read_table(dataset, partition_schema=pa.schema([("event_date", pa.date32())]))
    assert table.num_rows == 8
    assert table.schema.field("event_date").type == pa.date32()
    assert sorted(set(table["event_date"].to_pylist()))[0].isoformat() == "2026-01-01"
    assert read_table(dataset, columns=["x"]).column_names == ["x"]


def test_missing_sources_name_the_path(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "absent")):
        list_parquet_files(tmp_path / "absent")
    with pytest.raises(DataError, match="no Parquet files found"):
        list_parquet_files(str(tmp_path / "*.parquet"))
