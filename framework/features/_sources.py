"""Where fit data comes from: an Arrow table, Parquet paths/globs, or a Ray Dataset.

Local sources are read batch by batch (small Parquet files grouped, at most BATCH_ROWS rows a batch)
so that a pass over the data holds one batch in memory, whatever the dataset size.

Example:
    >>> import pyarrow as pa
    >>> source = local_source(pa.table({"x": [1, 2, 3]}))
    >>> [b.num_rows for b in source.batches(["x"])]
    [3]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import pyarrow as pa

from framework.data.parquet_io import ParquetFiles, list_parquet_files, open_parquet, read_file
from framework.errors import DataError

__all__ = ["BATCH_ROWS", "LocalSource", "local_source", "is_ray_dataset", "require_columns", "slice_batches"]

BATCH_ROWS = 1 << 20


def slice_batches(table: pa.Table, rows: int | None = None) -> Iterator[pa.Table]:
    rows = rows or BATCH_ROWS
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)


def is_ray_dataset(source) -> bool:
    """True for a ray.data.Dataset, without importing Ray."""
    return any(cls.__module__.startswith("ray.data") and cls.__name__ == "Dataset" for cls in type(source).__mro__)


@dataclass
class LocalSource:
    """Fit data read in this process: `batches(columns)` can be iterated once per fit stage."""

    description: str
    read: Callable[[list[str]], Iterator[pa.Table]]
    count_rows: Callable[[], int | None] = lambda: None  # rows of a pass, for progress; None: not known up front

    def batches(self, columns: list[str]) -> Iterator[pa.Table]:
        return self.read(columns)

    def rows(self) -> int | None:
        return self.count_rows()


def require_columns(schema: pa.Schema, columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise DataError(f"{where}: column(s) {missing} are missing; the feature pipeline reads them")


def _table_source(table: pa.Table) -> LocalSource:
    def read(columns: list[str]) -> Iterator[pa.Table]:
        require_columns(table.schema, columns, "table")
        yield from slice_batches(table.select(columns))

    return LocalSource("table", read, lambda: table.num_rows)


def _coalesce(tables: list[pa.Table]) -> Iterator[pa.Table]:
    """Small files as one batch (fewer, larger batches merge faster); files whose schemas do not
    unify stay separate batches."""
    try:
        yield pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        yield from tables


def _parquet_source(source) -> LocalSource:
    files = list_parquet_files(source)

    def read(columns: list[str]) -> Iterator[pa.Table]:
        pending, rows = [], 0
        for path in files.paths:
            table = read_file(files, path, columns)
            pending.append(table)
            rows += table.num_rows
            if rows >= BATCH_ROWS:
                for batch in _coalesce(pending):
                    yield from slice_batches(batch)
                pending, rows = [], 0
        for batch in _coalesce(pending) if pending else []:
            yield from slice_batches(batch)

    def count_rows() -> int:  # the footers only
        return sum(open_parquet(files, path).metadata.num_rows for path in files.paths)

    return LocalSource(f"{source}", read, count_rows)


def local_source(source) -> LocalSource:
    """A pyarrow.Table, or a Parquet file/directory/glob (or a list of them, or `ParquetFiles`)."""
    if isinstance(source, pa.Table):
        return _table_source(source)
    if isinstance(source, pa.RecordBatch):
        return _table_source(pa.Table.from_batches([source]))
    if isinstance(source, (str, list, tuple, ParquetFiles)) or hasattr(source, "__fspath__"):
        return _parquet_source(source)
    raise DataError(
        f"cannot fit on a {type(source).__name__}: expected a pyarrow.Table, Parquet path(s) or glob, "
        "or a ray.data.Dataset"
    )
