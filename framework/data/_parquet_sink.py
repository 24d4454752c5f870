"""Streamed rows into Parquet files of a steady size, optionally as hive partitions of one column.

Rows are buffered per output directory and written a row group at a time (ROW_GROUP_ROWS rows), a
new file every FILE_ROWS rows. With `partition_by`, each row goes to `COL=value/part-NNNNN.parquet`
and the column is not stored in the files (readers take it from the path, as parquet_io does):
the value is Arrow's own text for it (dates YYYY-MM-DD), escaped as Hive escapes path characters,
and a null is `__HIVE_DEFAULT_PARTITION__`.

Example:
    >>> sink = ParquetSink(staging, contract.arrow_schema(), partition_by="event_date")
    >>> sink.write(table)
    >>> files = sink.close()       # [WrittenFile("event_date=2026-01-01/part-00000.parquet", 1234), ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from framework.data.parquet_io import HIVE_NULL

__all__ = ["ParquetSink", "WrittenFile", "ROW_GROUP_ROWS", "FILE_ROWS", "hive_directory"]

ROW_GROUP_ROWS = 1 << 17  # 131,072 rows
FILE_ROWS = 1 << 20  # 1,048,576 rows: 8 row groups
MAX_BUFFERED_ROWS = 1 << 20  # across partitions; above it every buffer is written out, as a smaller row group
_HIVE_ESCAPED = set('"#%\'*/:=?\\{[]^')  # the characters Hive escapes in partition paths (with controls)


@dataclass(frozen=True)
class WrittenFile:
    path: str  # relative to the sink's root
    rows: int


def _escape(text: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPED or ord(c) < 0x20 or c == "\x7f" else c for c in text)


def hive_directory(column: str, value_text: str | None) -> str:
    """`event_date=2026-01-01`; `city=S%2FF` for "S/F" (parquet_io's partition_values decodes it)."""
    return f"{_escape(column)}={HIVE_NULL if value_text is None else _escape(value_text)}"


@dataclass
class _Directory:
    """One output directory: its buffered rows and the file being written."""

    root: Path
    relative: str
    schema: pa.Schema
    buffer: list = field(default_factory=list)
    buffered: int = 0
    writer: pq.ParquetWriter | None = None
    file_rows: int = 0
    written: list = field(default_factory=list)

    def add(self, table: pa.Table) -> None:
        self.buffer.append(table)
        self.buffered += table.num_rows

    def flush(self, row_group_rows: int, file_rows: int, everything: bool) -> None:
        rows = pa.concat_tables(self.buffer) if self.buffer else None
        offset = 0
        while rows is not None and rows.num_rows - offset >= (1 if everything else row_group_rows):
            count = min(row_group_rows, rows.num_rows - offset, file_rows - self.file_rows)
            self._file(file_rows).write_table(rows.slice(offset, count), row_group_size=count)
            self.file_rows += count
            self.written[-1] = WrittenFile(self.written[-1].path, self.written[-1].rows + count)
            offset += count
        self.buffer = [rows.slice(offset)] if rows is not None and offset < rows.num_rows else []
        self.buffered = sum(t.num_rows for t in self.buffer)

    def _file(self, file_rows: int) -> pq.ParquetWriter:
        if self.writer is None or self.file_rows >= file_rows:
            self.close()
            relative = f"{self.relative}/part-{len(self.written):05d}.parquet".lstrip("/")
            (self.root / relative).parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.root / relative, self.schema)
            self.file_rows = 0
            self.written.append(WrittenFile(relative, 0))
        return self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class ParquetSink:
    """Writes tables of one schema under `root` (see the module docstring)."""

    def __init__(self, root: str | Path, schema: pa.Schema, partition_by: str | None = None,
                 row_group_rows: int = ROW_GROUP_ROWS, file_rows: int = FILE_ROWS):
        self.root = Path(root)
        self.partition_by = partition_by
        self.schema = schema if partition_by is None else schema.remove(schema.get_field_index(partition_by))
        self.row_group_rows = row_group_rows
        self.file_rows = file_rows
        self._directories: dict[str, _Directory] = {}

    def _directory(self, relative: str) -> _Directory:
        if relative not in self._directories:
            self._directories[relative] = _Directory(self.root, relative, self.schema)
        return self._directories[relative]

    def _split(self, table: pa.Table):
        """(directory, rows without the partition column) per value of the partition column."""
        if self.partition_by is None:
            yield "", table
            return
        encoded = pc.dictionary_encode(table[self.partition_by].combine_chunks())
        rows = table.drop_columns([self.partition_by])
        texts = pc.cast(encoded.dictionary, pa.string()).to_pylist()
        for code, text in enumerate(texts):
            yield hive_directory(self.partition_by, text), rows.filter(pc.equal(encoded.indices, code))
        if encoded.null_count:
            yield hive_directory(self.partition_by, None), rows.filter(pc.is_null(encoded.indices))

    def write(self, table: pa.Table) -> None:
        for relative, rows in self._split(table.select(self.schema.names + ([self.partition_by] if self.partition_by else []))):
            directory = self._directory(relative)
            directory.add(rows)
            if directory.buffered >= self.row_group_rows:
                directory.flush(self.row_group_rows, self.file_rows, everything=False)
        if sum(d.buffered for d in self._directories.values()) > MAX_BUFFERED_ROWS:
            for directory in self._directories.values():
                directory.flush(self.row_group_rows, self.file_rows, everything=True)

    def close(self) -> list[WrittenFile]:
        """Write what is buffered, close every file; the files written, by path."""
        for directory in self._directories.values():
            directory.flush(self.row_group_rows, self.file_rows, everything=True)
            directory.close()
        return sorted((f for d in self._directories.values() for f in d.written), key=lambda f: f.path)
