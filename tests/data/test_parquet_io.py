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
    table = read_table(dataset, partition_types=pa.schema([("event_date", pa.date32())]))
    assert table.num_rows == 8
    assert table.schema.field("event_date").type == pa.date32()
    assert sorted(set(table["event_date"].to_pylist()))[0].isoformat() == "2026-01-01"
    assert read_table(dataset, columns=["x"]).column_names == ["x"]


def test_missing_sources_name_the_path(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "absent")):
        list_parquet_files(tmp_path / "absent")
    with pytest.raises(DataError, match="no Parquet files found"):
        list_parquet_files(str(tmp_path / "*.parquet"))


# -- one partition of a hive-partitioned table --------------------------------------------------

DATE32 = pa.schema([("event_date", pa.date32()), ("hour", pa.int32())])


@pytest.fixture()
def table_root(tmp_path):
    """t/event_date=D/hour=H/part-*.parquet: two dates, two hours, one file each."""
    root = tmp_path / "t"
    for day in ("2026-01-01", "2026-01-02"):
        for hour in ("3", "14"):
            directory = root / f"event_date={day}" / f"hour={hour}"
            directory.mkdir(parents=True)
            offset = int(day[-1]) * 100 + int(hour)
            pq.write_table(pa.table({"x": [offset, offset + 1000]}), directory / "part-0.parquet")
    return root


def _filtered(root, **equal) -> pa.Table:
    """The reference: the whole table read, then filtered with pyarrow.compute."""
    import pyarrow.compute as pc

    table = read_table(root, partition_types=DATE32)
    for name, value in equal.items():
        table = table.filter(pc.equal(table[name], pa.scalar(value, table.schema.field(name).type)))
    return table.sort_by("x")


def test_one_partition_directory_reads_like_the_table_filtered(table_root):
    import datetime as dt

    expected = _filtered(table_root, event_date=dt.date(2026, 1, 2))
    for source in (table_root / "event_date=2026-01-02", str(table_root / "event_date=2026-01-02" / "*" / "*.parquet")):
        got = read_table(source, partition_types=DATE32).sort_by("x")
        assert got.equals(expected.select(got.column_names)), source
        assert sorted(got.column_names) == ["event_date", "hour", "x"]
    deepest = read_table(table_root / "event_date=2026-01-02" / "hour=14" / "part-0.parquet", partition_types=DATE32)
    assert deepest.to_pylist() == [{"x": 214, "event_date": dt.date(2026, 1, 2), "hour": 14},
                                   {"x": 1214, "event_date": dt.date(2026, 1, 2), "hour": 14}]


def test_where_on_the_root_equals_pointing_at_the_partition(table_root):
    import datetime as dt

    by_where = read_table(table_root, partition_types=DATE32, where=["event_date=2026-01-01", "hour=03"]).sort_by("x")
    assert by_where.equals(_filtered(table_root, event_date=dt.date(2026, 1, 1), hour=3).select(by_where.column_names))
    assert by_where["x"].to_pylist() == [103, 1103]  # hour=03 matches hour=3: compared as the contract's int32
    files = list_parquet_files(table_root, where={"hour": "14"})
    assert [p.split("/")[-2] for p in files.paths] == ["hour=14", "hour=14"] and files.where == {"hour": "14"}


def test_where_names_only_partition_keys(table_root):
    from framework.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\['x'\]: not a partition key .*\['event_date', 'hour'\]"):
        list_parquet_files(table_root, where=["x=1"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        list_parquet_files(table_root, where=["event_date"])
    with pytest.raises(DataError, match=r"no partition with event_date=2026-03-01; found values \['2026-01-01', '2026-01-02'\]"):
        list_parquet_files(table_root, where=["event_date=2026-03-01"])


def test_a_partition_value_that_does_not_parse_names_the_path(table_root):
    bad = table_root / "event_date=yesterday" / "hour=1"
    bad.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), bad / "part-0.parquet")
    with pytest.raises(DataError, match=r"event_date=yesterday/hour=1/part-0.parquet: partition event_date='yesterday' is not a valid date32"):
        read_table(table_root, partition_types=DATE32)
    assert read_table(table_root, partition_types=DATE32, where={"event_date": "2026-01-01"}).num_rows == 4


def test_uri_encoded_and_null_partition_values(tmp_path):
    for value in ("a%20b", "__HIVE_DEFAULT_PARTITION__"):
        directory = tmp_path / f"city={value}"
        directory.mkdir()
        pq.write_table(pa.table({"x": [1]}), directory / "part-0.parquet")
    table = read_table(tmp_path).sort_by("x")
    assert sorted(table["city"].to_pylist(), key=str) == [None, "a b"]
