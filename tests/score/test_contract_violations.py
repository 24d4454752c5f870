"""Input that violates the bundle's contract: a clear error naming file and column, nothing written.

These runs stop in planning, before Ray is started and before the output directory exists.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework.cli import main as cli_main
from framework.data import list_parquet_files
from framework.errors import ConfigError, ContractError
from framework.score import run_scoring


def _drop_column(path: str) -> None:
    pq.write_table(pq.read_table(path).drop_columns(["I3"]), path)


def _wrong_type(path: str) -> None:
    table = pq.read_table(path)
    index = table.schema.get_field_index("I2")
    pq.write_table(table.set_column(index, "I2", table.column("I2").cast(pa.string())), path)


def _corrupt(path: str) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])  # the footer is gone


def _empty(path: str) -> None:
    pq.write_table(pq.read_table(path).slice(0, 0), path)


def _zero_bytes(path: str) -> None:
    Path(path).write_bytes(b"")


VIOLATIONS = {
    "missing column": (_drop_column, r"column 'I3': missing; the contract expects a int64 column"),
    "wrong type": (_wrong_type, r"column 'I2': expected int64, found string"),
    "corrupt file": (_corrupt, r"not a readable Parquet file \(corrupt or truncated"),
    "empty file": (_empty, r"empty file: 0 rows"),
    "zero-byte file": (_zero_bytes, r"zero-byte file"),
}


@pytest.fixture()
def broken_day(world, tmp_path, request):
    day = tmp_path / "day"
    shutil.copytree(world.day, day)
    victim = list_parquet_files(day).paths[3]
    VIOLATIONS[request.param][0](victim)
    return day, victim


@pytest.mark.parametrize("broken_day", list(VIOLATIONS), indirect=True)
def test_violation_is_named_and_nothing_is_written(world, broken_day, tmp_path, request):
    day, victim = broken_day
    output = tmp_path / "scores"
    message = VIOLATIONS[request.node.callspec.params["broken_day"]][1]
    with pytest.raises(ContractError, match=message) as caught:
        run_scoring(world.config(output, input=str(day)))
    assert victim in str(caught.value) and "nothing was written" in str(caught.value)
    assert not output.exists()


def test_the_cli_prints_the_error_without_a_traceback(world, tmp_path, capsys):
    day = tmp_path / "day"
    shutil.copytree(world.day, day)
    _wrong_type(list_parquet_files(day).paths[0])
    status = cli_main(["score", "--model", str(world.bundle), "--input", str(day), "--output", str(tmp_path / "out"),
                       "--run-date", "2026-02-01", "--passthrough", "event_date"])
    err = capsys.readouterr().err
    assert status == 1 and "column 'I2': expected int64, found string" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("passthrough", "message"),
    [(["no_such_column"], "not in the bundle's contract"), (["score"], "written by scoring")],
)
def test_passthrough_must_be_safe_and_known(world, tmp_path, passthrough, message):
    with pytest.raises(ConfigError, match=message):
        run_scoring(world.config(tmp_path / "out", passthrough=passthrough))
    assert not (tmp_path / "out").exists()


def test_unknown_registry_references_are_refused_clearly(world, tmp_path, capsys):
    status = cli_main(["score", "--model", "ctr@prod", "--input", str(world.day), "--output", str(tmp_path),
                       "--run-date", "2026-02-01"])
    assert status == 2 and "ctr@prod: not in the registry" in capsys.readouterr().err
