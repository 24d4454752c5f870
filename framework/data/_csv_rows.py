"""Rows of one CSV/TSV file, typed by a contract, block by block, with the rows that do not fit.

Every field is read as bytes (pyarrow.csv's streaming reader, one block at a time, one thread so
that rows arrive in order and pyarrow can number them), then each column is cast to its contract
type. A cast that fails is narrowed down by halving the block until the failing rows are found, so
one bad value rejects one row, not its block. A row is rejected, with its line number and a reason,
when its field count is wrong, a value does not parse as its column's type (or is not UTF-8), or a
non-nullable column is empty.

Conventions: only an empty field is null (`NA`, `null` and the like are values, so a string column
keeps them as they are). A blank line is skipped, neither imported nor rejected (as is a row whose
every field is empty). Line numbers count every line of the file, the header and blank lines too;
values may not contain line breaks (they would shift the numbers of later rows).

Example:
    >>> layout = plan_layout(contract, peek_columns(stream, csv_format, source.display), csv_format, source.display)
    >>> for block in read_rows(stream, contract, layout, csv_format, source.display, file_index=0):
    ...     sink.write(block.rows)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from framework.data.contract import ColumnSpec, Contract
from framework.errors import DataError

__all__ = ["CsvFormat", "CsvLayout", "RowBlock", "ID_FILE_SHIFT", "peek_columns", "plan_layout", "read_rows"]

BLOCK_BYTES = 4 << 20  # text parsed per block (pyarrow reads a few dozen MB ahead, never a whole file)
ID_FILE_SHIFT = 40  # a generated id is file_index << 40 | line: 2**40 lines per file, 2**23 files


@dataclass(frozen=True)
class CsvFormat:
    """How the text is split: the delimiter, whether the first line names the columns, and whether
    `"` quotes fields (RFC 4180 CSV) or is an ordinary character (TSV)."""

    delimiter: str = ","
    header: bool = True
    quoting: bool = True

    def parse_options(self, handler=None) -> pacsv.ParseOptions:
        return pacsv.ParseOptions(delimiter=self.delimiter, quote_char='"' if self.quoting else False,
                                  ignore_empty_lines=False, invalid_row_handler=handler)


@dataclass(frozen=True)
class CsvLayout:
    """The file's columns in file order (as the header names them, or the contract's without a
    header), and the contract's id column when the import makes it (absent from the file)."""

    columns: list[str]
    generated_id: str | None = None


@dataclass(frozen=True)
class RowBlock:
    rows: pa.Table  # typed, in the contract's column order
    rejects: list[dict]  # {"line", "reason", "text"}
    blank: int  # blank lines skipped


def peek_columns(stream: pa.NativeFile, csv_format: CsvFormat, display: str) -> list[str]:
    """The header's names, or (without a header) `f0, f1, ...`, one per field of the first row."""
    read = pacsv.ReadOptions(use_threads=False, block_size=1 << 20, autogenerate_column_names=not csv_format.header)
    parse = csv_format.parse_options(lambda row: "skip")
    return _unreadable_as_data_error(display, csv_format, lambda: pacsv.open_csv(stream, read_options=read,
                                                                              parse_options=parse).schema.names)


def _header_layout(contract: Contract, names: list[str], display: str) -> CsvLayout:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"{display}: the header names {duplicates} more than once")
    generated = contract.role_of("id") if contract.role_of("id") not in names else None
    missing = [n for n in contract.names() if n not in names and n != generated]
    if missing:
        raise DataError(f"{display}: the header lacks the contract's column(s) {missing}; it has {names[:12]}")
    extra = [n for n in names if n not in contract.names()]
    if extra and contract.extra_columns == "error":
        raise DataError(f"{display}: column(s) {extra} are not in the contract; name them in it, or set "
                        "extra_columns: ignore to drop them")
    return CsvLayout(names, generated)


def _headerless_layout(contract: Contract, fields: int, display: str) -> CsvLayout:
    names, id_column = contract.names(), contract.role_of("id")
    if fields == len(names):
        return CsvLayout(names)
    if id_column and fields == len(names) - 1:
        return CsvLayout([n for n in names if n != id_column], id_column)
    without_id = f" ({len(names) - 1} without the id column {id_column!r}, which the import can make)" if id_column else ""
    raise DataError(f"{display}: rows have {fields} fields, but the contract names {len(names)} columns{without_id}; "
                    "without a header the fields are the contract's columns in its order")


def _check_readable_types(contract: Contract) -> None:
    for spec in contract.columns:
        try:
            _cast(pa.array([], pa.binary()), spec.arrow_type)
        except pa.ArrowNotImplementedError:
            raise DataError(f"contract column {spec.name!r}: a {spec.type} cannot be read from text; "
                            "import it as string (or int64, float64, date32, timestamp[us]...) and convert it later") from None


def plan_layout(contract: Contract, peeked: list[str], csv_format: CsvFormat, display: str) -> CsvLayout:
    """Match the file's columns to the contract: by name with a header, by position without one."""
    _check_readable_types(contract)
    if csv_format.header:
        return _header_layout(contract, peeked, display)
    return _headerless_layout(contract, len(peeked), display)


class _InvalidRows:
    """pyarrow.csv's invalid_row_handler: records rows with the wrong field count, and skips them."""

    def __init__(self):
        self.rejects: list[dict] = []
        self.pending: deque[int] = deque()  # their line numbers, not yet passed by the good rows

    def __call__(self, row) -> str:
        self.rejects.append({"line": row.number, "reason": f"expected {row.expected_columns} fields, "
                             f"found {row.actual_columns}", "text": row.text})
        self.pending.append(row.number)
        return "skip"

    def take_rejects(self) -> list[dict]:
        rejects, self.rejects = self.rejects, []
        return rejects


class _LineNumbers:
    """Line numbers of the rows pyarrow yields: every line is a row or an invalid row, in order."""

    def __init__(self, first: int, invalid: _InvalidRows):
        self.next = first
        self.invalid = invalid

    def take(self, count: int) -> np.ndarray:
        skipped = np.fromiter(self.invalid.pending, np.int64, len(self.invalid.pending))
        candidates = np.arange(self.next, self.next + count + len(skipped), dtype=np.int64)
        lines = candidates[~np.isin(candidates, skipped)][:count]
        if count:
            self.next = int(lines[-1]) + 1
        while self.invalid.pending and self.invalid.pending[0] < self.next:
            self.invalid.pending.popleft()
        return lines


def _cast(values: pa.Array, target: pa.DataType) -> pa.Array:
    if pa.types.is_binary(target):
        return values
    text = values.cast(pa.string())  # checks UTF-8
    return text if target == pa.string() else text.cast(target)


def _failing_rows(values: pa.Array, target: pa.DataType, offset: int = 0) -> list[int]:
    """Rows whose value does not cast, found by halving: a handful of casts per bad row."""
    try:
        _cast(values, target)
        return []
    except pa.ArrowInvalid:
        if len(values) == 1:
            return [offset]
    middle = len(values) // 2
    return _failing_rows(values.slice(0, middle), target, offset) + \
        _failing_rows(values.slice(middle), target, offset + middle)


def cast_column(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[int]]:
    """`values` (binary) as `target`, with the rows that do not parse set to null and listed."""
    try:
        return _cast(values, target), []
    except pa.ArrowInvalid:
        bad = _failing_rows(values, target)
    mask = np.zeros(len(values), dtype=bool)
    mask[bad] = True
    return _cast(pc.if_else(pa.array(mask), pa.nulls(len(values), values.type), values), target), bad


def _row_text(raw: pa.Table, rows: list[int], delimiter: str) -> list[str]:
    fields = [raw[name].take(rows).to_pylist() for name in raw.column_names]
    return [delimiter.join("" if v is None else v.decode("utf-8", "backslashreplace") for v in row)
            for row in zip(*fields)]


def _typed_block(raw: pa.Table, lines: np.ndarray, specs: list[ColumnSpec], delimiter: str) -> tuple[dict, list[dict], np.ndarray, int]:
    """(typed columns, rejects, rows kept, blank rows) of one block."""
    blank = np.ones(raw.num_rows, dtype=bool)
    for column in raw.columns:
        blank &= column.is_null().to_numpy(zero_copy_only=False)
    reasons: dict[int, list[str]] = {}
    typed = {}
    for spec in specs:
        column, bad = cast_column(raw[spec.name].combine_chunks(), spec.arrow_type)
        for row in bad:
            reasons.setdefault(row, []).append(f"column {spec.name!r}: not a valid {spec.type}")
        if not spec.nullable:
            empty = column.is_null().to_numpy(zero_copy_only=False) & ~blank
            empty[bad] = False
            for row in np.flatnonzero(empty).tolist():
                reasons.setdefault(row, []).append(f"column {spec.name!r} is empty, but the contract says nullable: false")
        typed[spec.name] = column
    rejected = sorted(reasons)
    texts = _row_text(raw, rejected, delimiter) if rejected else []
    rejects = [{"line": int(lines[r]), "reason": "; ".join(reasons[r]), "text": t} for r, t in zip(rejected, texts)]
    keep = ~blank
    keep[rejected] = False
    return typed, rejects, keep, int(np.count_nonzero(blank))


def _block(batch: pa.RecordBatch, lines: np.ndarray, contract: Contract, layout: CsvLayout, csv_format: CsvFormat,
           file_index: int) -> RowBlock:
    raw = pa.Table.from_batches([batch])
    specs = [c for c in contract.columns if c.name != layout.generated_id]
    typed, rejects, keep, blank = _typed_block(raw, lines, specs, csv_format.delimiter)
    kept = pa.array(keep)
    columns = {name: column.filter(kept) for name, column in typed.items()}
    if layout.generated_id:
        columns[layout.generated_id] = pa.array((file_index << ID_FILE_SHIFT) | lines[keep], pa.int64())
    schema = contract.arrow_schema()
    rows = pa.table([columns[f.name] for f in schema], schema=schema)
    return RowBlock(rows, rejects, blank)


def _next_batch(reader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _unreadable_as_data_error(display: str, csv_format: CsvFormat, read):
    """pyarrow's parse errors (a quote left open, invalid UTF-8 in a row of the wrong length...) name the file."""
    try:
        return read()
    except pa.ArrowInvalid as error:
        kind = "CSV" if csv_format.quoting else "TSV"
        raise DataError(f"{display}: cannot read as {kind}: {str(error).splitlines()[0]}") from None


def read_rows(stream: pa.NativeFile, contract: Contract, layout: CsvLayout, csv_format: CsvFormat, display: str,
              file_index: int, block_bytes: int = BLOCK_BYTES):
    """Yield a RowBlock per block of the file: its good rows typed, and its rejects (line, reason, text).

    A generated id column gets `file_index << 40 | line`."""
    invalid = _InvalidRows()
    read = pacsv.ReadOptions(use_threads=False, block_size=block_bytes,
                             column_names=None if csv_format.header else layout.columns)
    convert = pacsv.ConvertOptions(column_types={n: pa.binary() for n in layout.columns}, strings_can_be_null=True,
                                   null_values=[""], quoted_strings_can_be_null=True)
    lines = _LineNumbers(2 if csv_format.header else 1, invalid)
    reader = _unreadable_as_data_error(display, csv_format, lambda: pacsv.open_csv(
        stream, read_options=read, parse_options=csv_format.parse_options(invalid), convert_options=convert))
    while (batch := _unreadable_as_data_error(display, csv_format, lambda: _next_batch(reader))) is not None:
        block = _block(batch, lines.take(batch.num_rows), contract, layout, csv_format, file_index)
        yield RowBlock(block.rows, invalid.take_rejects() + block.rejects, block.blank)
    if invalid.rejects:
        yield RowBlock(contract.arrow_schema().empty_table(), invalid.take_rejects(), 0)
