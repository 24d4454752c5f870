"""Arrow columns → the host NumPy arrays that kernels take, with the contract's type rules.

Values are read straight from the Arrow buffers (no intermediate copies): a numeric column becomes
float64 with NaN for missing, written into a caller-provided row when given; an integer categorical
column is a zero-copy int64 view whenever the column already is int64 (null slots hold arbitrary
values and are masked by `valid`).

Example:
    >>> import pyarrow as pa
    >>> numeric_values(pa.array([1, None, 3]), "x", "error").tolist()
    [1.0, nan, 3.0]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from framework.errors import DataError

__all__ = ["plain", "validity", "numeric_values", "integer_values", "is_string_type"]


def plain(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous, non-dictionary array."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def validity(array: pa.Array) -> np.ndarray:
    if array.null_count == 0:
        return np.ones(len(array), dtype=bool)
    return array.is_valid().to_numpy(zero_copy_only=False)


def is_string_type(data_type: pa.DataType) -> bool:
    return any(check(data_type) for check in (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary))


def _buffer_view(array: pa.Array) -> np.ndarray:
    """The value buffer of a fixed-width array as NumPy, without copying."""
    dtype = np.dtype(array.type.to_pandas_dtype())
    buffer = array.buffers()[1]
    if buffer is None or len(array) == 0:
        return np.zeros(len(array), dtype=dtype)
    return np.frombuffer(buffer, dtype=dtype)[array.offset : array.offset + len(array)]


def numeric_values(array: pa.Array, name: str, nonfinite: str, out: np.ndarray | None = None) -> np.ndarray:
    """float64 with NaN for missing; infinities raise (nonfinite='error') or become NaN ('missing')."""
    out = np.empty(len(array), dtype=np.float64) if out is None else out
    if pa.types.is_null(array.type):
        out[...] = np.nan
        return out
    if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        raise DataError(f"column {name!r}: expected a numeric (integer or floating) column, found {array.type}")
    out[...] = _buffer_view(array)
    if array.null_count:
        out[~validity(array)] = np.nan
    if pa.types.is_floating(array.type):
        infinite = np.isinf(out)
        count = int(np.count_nonzero(infinite))
        if count and nonfinite == "error":
            raise DataError(
                f"column {name!r}: {count} rows hold +inf or -inf; nonfinite='error' refuses them "
                "(clean the data, or set nonfinite: missing to treat them as missing)"
            )
        out[infinite] = np.nan
    return out


def integer_values(array: pa.Array, name: str) -> np.ndarray:
    """int64 values of an integer column (a zero-copy view when it is int64 already)."""
    values = _buffer_view(array)
    if values.dtype == np.uint64 and values.size and int(values[validity(array)].max(initial=0)) > np.iinfo(np.int64).max:
        raise DataError(f"column {name!r}: uint64 values above the int64 maximum cannot be categorical")
    return values if values.dtype == np.int64 else values.astype(np.int64)
