"""Contract checks: every kind of bad input gets its own clear problem naming file and column."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework.data import Contract, check_dataset, check_table, load_contract, save_contract
from framework.errors import ConfigError, ContractError, DataError

CONTRACT = Contract(
    name="small",
    columns=[
        {"name": "id", "type": "int64", "nullable": False, "role": "id"},
        {"name": "label", "type": "int8", "nullable": False, "role": "label"},
        {"name": "I1", "type": "int64"},
        {"name": "C1", "type": "string"},
    ],
)


def _good_table(rows: int = 5) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "label": pa.array([i % 2 for i in range(rows)], pa.int8()),
            "I1": pa.array([i if i % 3 else None for i in range(rows)], pa.int64()),
            "C1": pa.array([f"v{i}" for i in range(rows)], pa.string()),
        }
    )


def _write(directory, name, table):
    path = directory / name
    pq.write_table(table, path)
    return path


def _messages(report):
    return [str(p) for p in report.problems]


def test_good_data_passes(tmp_path):
    _write(tmp_path, "a.parquet", _good_table())
    report = check_dataset(CONTRACT, tmp_path)
    assert report.ok and report.rows == 5 and report.files == 1


def test_missing_column(tmp_path):
    path = _write(tmp_path, "a.parquet", _good_table().drop_columns(["C1"]))
    (problem,) = check_dataset(CONTRACT, tmp_path).problems
    assert problem.file == str(path) and problem.column == "C1"
    assert "missing" in problem.message and "string" in problem.message


def test_wrong_type(tmp_path):
    table = _good_table().set_column(2, "I1", pa.array(["1", "2", "3", "4", "5"]))
    _write(tmp_path, "a.parquet", table)
    (problem,) = check_dataset(CONTRACT, tmp_path).problems
    assert problem.column == "I1" and problem.message == "expected int64, found string"


def test_unexpected_nulls(tmp_path):
    table = _good_table().set_column(0, "id", pa.array([1, None, 3, None, 5], pa.int64()))
    _write(tmp_path, "a.parquet", table)
    (problem,) = check_dataset(CONTRACT, tmp_path).problems
    assert problem.column == "id" and "2 null value(s)" in problem.message and "nullable: false" in problem.message


def test_extra_column_is_an_error_or_ignored_by_policy(tmp_path):
    _write(tmp_path, "a.parquet", _good_table().append_column("secret", pa.array(["x"] * 5)))
    (problem,) = check_dataset(CONTRACT, tmp_path).problems
    assert problem.column == "secret" and "unexpected column" in problem.message
    lenient = CONTRACT.model_copy(update={"extra_columns": "ignore"})
    assert check_dataset(lenient, tmp_path).ok


def test_empty_file(tmp_path):
    path = _write(tmp_path, "a.parquet", _good_table(0))
    (problem,) = check_dataset(CONTRACT, tmp_path).problems
    assert problem.file == str(path) and problem.column is None and "empty file: 0 rows" in problem.message


def test_zero_byte_file(tmp_path):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"")
    (problem,) = check_dataset(CONTRACT, tmp_path).problems
    assert problem.file == str(path) and "zero-byte file" in problem.message


def test_not_parquet(tmp_path):
    (tmp_path / "a.parquet").write_text("id,label\n1,0\n")
    (problem,) = check_dataset(CONTRACT, tmp_path).problems
    assert "not a readable Parquet file" in problem.message


def test_truncated_footer(tmp_path):
    path = _write(tmp_path, "a.parquet", _good_table())
    path.write_bytes(path.read_bytes()[:-20])
    (problem,) = check_dataset(CONTRACT, tmp_path).problems
    assert problem.file == str(path) and "not a readable Parquet file" in problem.message


def test_every_problem_is_reported_at_once(tmp_path):
    _write(tmp_path, "a.parquet", _good_table().drop_columns(["C1"]))
    (tmp_path / "b.parquet").write_bytes(b"")
    table = _good_table().set_column(2, "I1", pa.array([0.5] * 5)).append_column("x", pa.array([1] * 5))
    _write(tmp_path, "c.parquet", table)
    report = check_dataset(CONTRACT, tmp_path)
    assert not report.ok
    found = {(p.file.rsplit("/", 1)[-1], p.column) for p in report.problems}
    assert found == {("a.parquet", "C1"), ("b.parquet", None), ("c.parquet", "I1"), ("c.parquet", "x")}
    with pytest.raises(ContractError) as error:
        report.raise_if_failed()
    assert len(error.value.problems) == 4
    assert "4 problem(s) in 3 of 3 file(s)" in str(error.value)


def test_hive_partition_values_are_checked_against_their_type(tmp_path):
    columns = [c.model_dump() for c in CONTRACT.columns] + [{"name": "event_date", "type": "date32"}]
    contract = Contract(name="small", columns=columns)
    for day in ("2026-01-01", "not-a-date"):
        (tmp_path / f"event_date={day}").mkdir()
        _write(tmp_path / f"event_date={day}", "part-0.parquet", _good_table())
    (problem,) = check_dataset(contract, tmp_path).problems
    assert problem.column == "event_date" and "not-a-date" in problem.message and "date32" in problem.message


def test_check_table_in_memory():
    table = _good_table().drop_columns(["label"])
    (problem,) = check_table(CONTRACT, table, "request").problems
    assert str(problem) == "request: column 'label': missing; the contract expects a int8 column"


def test_no_files_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no Parquet files found"):
        check_dataset(CONTRACT, tmp_path)
    with pytest.raises(DataError, match="no such file or directory"):
        check_dataset(CONTRACT, tmp_path / "nope")


def test_contract_round_trip_and_validation(tmp_path):
    save_contract(CONTRACT, tmp_path / "c.yaml")
    assert load_contract(tmp_path / "c.yaml") == CONTRACT
    (tmp_path / "bad.yaml").write_text("columns:\n  - {name: a, type: integer}\n  - {name: b, type: int64, role: target}\n")
    with pytest.raises(ConfigError) as error:
        load_contract(tmp_path / "bad.yaml")
    message = str(error.value)
    assert "columns.0.type" in message and "unknown Arrow type 'integer'" in message
    assert "columns.1.role" in message and "'target'" in message and "'label'" in message


def test_cli_check_reports_problems_without_traceback(tmp_path):
    save_contract(CONTRACT, tmp_path / "contract.yaml")
    data = tmp_path / "data"
    data.mkdir()
    _write(data, "a.parquet", _good_table().drop_columns(["I1"]))
    (data / "b.parquet").write_bytes(b"PAR1garbage")
    command = [sys.executable, "-m", "framework.cli", "data", "check", "--contract", str(tmp_path / "contract.yaml")]
    result = subprocess.run(command + ["--data", str(data)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{data / 'a.parquet'}: column 'I1': missing" in result.stderr
    assert f"{data / 'b.parquet'}: not a readable Parquet file" in result.stderr
    _write(data, "b.parquet", _good_table())
    _write(data, "a.parquet", _good_table())
    result = subprocess.run(command + ["--data", str(data)], capture_output=True, text=True)
    assert result.returncode == 0 and "ok: 2 file(s), 10 rows" in result.stdout
