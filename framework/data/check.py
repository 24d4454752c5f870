"""Check Parquet files or Arrow tables against a contract, reporting every problem at once.

Example:
    >>> report = check_dataset(contract, "data/train")
    >>> for problem in report.problems:
    ...     print(problem)
    data/train/event_date=2026-01-01/part-00000.parquet: column 'I1': expected int64, found string
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from framework.data.contract import Contract, type_name
from framework.data.parquet_io import HIVE_NULL, ParquetFiles, list_parquet_files, open_parquet, partition_values
from framework.errors import ContractError

__all__ = ["Problem", "CheckReport", "check_dataset", "check_table"]

@dataclass(frozen=True)
class Problem:
    """One finding: where (file, column) and what was expected."""

    file: str
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: column {self.column!r}" if self.column else self.file
        return f"{where}: {self.message}"


@dataclass
class CheckReport:
    contract: str
    files: int = 0
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return f"ok: {self.files} file(s), {self.rows:,} rows match contract {self.contract!r}"
        files = len({p.file for p in self.problems})
        return f"{len(self.problems)} problem(s) in {files} of {self.files} file(s) against contract {self.contract!r}"

    def raise_if_failed(self) -> None:
        if not self.ok:
            lines = "\n  ".join(str(p) for p in self.problems)
            raise ContractError(f"{self.summary()}\n  {lines}", self.problems)


def _type_problem(file: str, name: str, expected: pa.DataType, found: pa.DataType) -> Problem | None:
    if found == expected:
        return None
    return Problem(file, name, f"expected {type_name(expected)}, found {type_name(found)}")


def _null_problem(file: str, name: str, nulls: int) -> Problem | None:
    if nulls:
        return Problem(file, name, f"{nulls:,} null value(s), but the contract says nullable: false")
    return None


def _null_count(parquet_file, column_index: int, name: str) -> int:
    """Null count from the footer statistics, reading the column only where they are absent."""
    metadata = parquet_file.metadata
    total = 0
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column_index).statistics
        if stats is None or not stats.has_null_count:
            return parquet_file.read(columns=[name]).column(0).null_count
        total += stats.null_count
    return total


def _check_partition_value(file: str, name: str, raw: str, spec) -> list[Problem]:
    if raw == HIVE_NULL:
        return [] if spec.nullable else [p for p in [_null_problem(file, name, 1)] if p]
    try:
        pc.cast(pa.array([raw]), spec.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [Problem(file, name, f"partition value {raw!r} is not a valid {spec.type}")]
    return []


def _open(files: ParquetFiles, path: str, display: str):
    """Open a file, or return the problem that stops its check."""
    size = files.filesystem.get_file_info(path).size
    if size == 0:
        return None, Problem(display, None, "zero-byte file; expected a Parquet file")
    try:
        return open_parquet(files, path), None
    except (pa.ArrowInvalid, OSError) as error:
        reason = str(error).splitlines()[0]
        return None, Problem(display, None, f"not a readable Parquet file (corrupt or truncated: {reason})")


def _check_columns(contract: Contract, parquet_file, display: str, partitions: dict) -> list[Problem]:
    schema = parquet_file.schema_arrow
    found = {f.name: f.type for f in schema}
    index_of = {parquet_file.metadata.schema.column(i).path: i for i in range(len(parquet_file.metadata.schema))}
    problems: list[Problem] = []
    for spec in contract.columns:
        if spec.name in found:
            problems.append(_type_problem(display, spec.name, spec.arrow_type, found[spec.name]))
            if not spec.nullable and spec.name in index_of:
                nulls = _null_count(parquet_file, index_of[spec.name], spec.name)
                problems.append(_null_problem(display, spec.name, nulls))
        elif spec.name in partitions:
            problems += _check_partition_value(display, spec.name, partitions[spec.name], spec)
        else:
            problems.append(Problem(display, spec.name, f"missing; the contract expects a {spec.type} column"))
    if contract.extra_columns == "error":
        for name in sorted(set(found) - set(contract.names())):
            message = f"unexpected column of type {type_name(found[name])}; the contract does not name it"
            problems.append(Problem(display, name, message + " (set extra_columns: ignore to allow extras)"))
    return [p for p in problems if p is not None]


def _check_file(contract: Contract, files: ParquetFiles, path: str) -> tuple[list[Problem], int]:
    display = files.display(path)
    parquet_file, problem = _open(files, path, display)
    if problem:
        return [problem], 0
    rows = parquet_file.metadata.num_rows
    problems = [Problem(display, None, "empty file: 0 rows")] if rows == 0 else []
    try:
        problems += _check_columns(contract, parquet_file, display, partition_values(path))
    except (pa.ArrowInvalid, OSError) as error:
        problems.append(Problem(display, None, f"corrupt data while reading: {str(error).splitlines()[0]}"))
    return problems, rows


def check_dataset(contract: Contract, source, where=None) -> CheckReport:
    """Check every Parquet file under `source` (file, directory, glob, list or `ParquetFiles`) against
    `contract`; `where` keeps one partition (`{"event_date": "2026-01-03"}`)."""
    files = list_parquet_files(source, where, contract.arrow_schema())
    report = CheckReport(contract.name, files=len(files.paths))
    for path in files.paths:
        problems, rows = _check_file(contract, files, path)
        report.problems += problems
        report.rows += rows
    return report


def check_table(contract: Contract, table: pa.Table, name: str = "table") -> CheckReport:
    """Check an in-memory Arrow table (used before scoring writes anything)."""
    report = CheckReport(contract.name, files=1, rows=table.num_rows)
    found = dict(zip(table.schema.names, table.schema.types))
    for spec in contract.columns:
        if spec.name not in found:
            report.problems.append(Problem(name, spec.name, f"missing; the contract expects a {spec.type} column"))
            continue
        report.problems += [p for p in [_type_problem(name, spec.name, spec.arrow_type, found[spec.name])] if p]
        if not spec.nullable:
            report.problems += [p for p in [_null_problem(name, spec.name, table[spec.name].null_count)] if p]
    if contract.extra_columns == "error":
        for extra in sorted(set(found) - set(contract.names())):
            report.problems.append(Problem(name, extra, "unexpected column; the contract does not name it"))
    return report
