"""Per-value statistics of categorical columns, and exact lookups into them.

Keys are kept on the host in a canonical form: a sorted int64 NumPy array, or a sorted large_binary
Arrow array for string columns. `KeyLookup` turns such keys into a kernel index once per device.

Example:
    >>> import numpy as np, pyarrow as pa
    >>> from framework.features._columns import ColumnFrame
    >>> cat = ColumnFrame(pa.table({"c": ["b", "a", None, "b"]})).categorical("c")
    >>> sums = categorical_sums(cat)
    >>> sums.keys.to_pylist(), sums.sums["count"].tolist(), sums.missing["count"].tolist()
    ([b'a', b'b'], [1, 2], 1)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

import kernels
from framework.errors import DataError
from framework.features._columns import Categorical, to_host
from framework.features._stats import KeyedSums
from kernels.cpu.strings import binary_array, string_buffers

__all__ = ["categorical_sums", "KeyLookup", "keys_to_arrow", "keys_from_arrow", "conform_key_kind"]


def _kernel_keys(keys, xp):
    if isinstance(keys, np.ndarray):
        return xp.asarray(keys)
    offsets, data = string_buffers(keys)
    return xp.asarray(np.ascontiguousarray(offsets, dtype=np.int64)), xp.asarray(data)


def categorical_sums(cat: Categorical, quantities: dict | None = None, groups: int = 1) -> KeyedSums:
    """Count of each distinct valid value (and of the missing rows), plus summed `quantities`.

    `quantities` maps a name to (codes-of-subgroup int64[n] or None, float64[n]): with `groups` > 1
    the sums get a second axis of that size (used for per-fold target statistics).
    """
    if cat.is_string:
        uniq_offsets, uniq_data, counts = kernels.value_counts_strings(*cat.values, cat.valid)
        keys = binary_array(to_host(uniq_offsets), to_host(uniq_data))
    else:
        uniques, counts = kernels.value_counts_int64(cat.values, cat.valid)
        keys = to_host(uniques)
    valid_count = int(to_host(cat.valid).sum())
    sums = {"count": to_host(counts).astype(np.int64)}
    missing = {"count": np.int64(len(cat.valid) - valid_count)}
    if quantities:
        xp = kernels.get_array_module(cat.valid)
        codes = kernels.lookup_keys(kernels.build_key_index(_kernel_keys(keys, xp)), cat.values)
        codes = xp.where(cat.valid, codes, len(keys))
        for name, (subgroup, values) in quantities.items():
            grouped = codes * groups + (subgroup if subgroup is not None else 0)
            _, totals = kernels.group_sums(grouped, values, (len(keys) + 1) * groups)
            totals = to_host(totals).reshape(len(keys) + 1, groups)
            sums[name], missing[name] = totals[:-1], totals[-1]
    return KeyedSums.from_distinct(keys, sums, missing)


def conform_key_kind(column: str, keys, cat: Categorical) -> Categorical:
    """`cat` ready for lookups in `keys`: refuses strings against integer keys and the other way
    round, except for a column with no valid row (an all-null column has no kind of its own)."""
    fitted_string = not isinstance(keys, np.ndarray)
    if fitted_string == cat.is_string or len(keys) == 0:  # nothing seen at fit: any kind is unseen
        return cat
    xp = kernels.get_array_module(cat.valid)
    if not bool(to_host(cat.valid).any()):
        rows = len(cat.valid)
        values = (xp.zeros(rows + 1, np.int64), xp.zeros(0, np.uint8)) if fitted_string else xp.zeros(rows, np.int64)
        return Categorical(values, cat.valid)
    fitted, found = ("string", "integer") if fitted_string else ("integer", "string")
    raise DataError(f"column {column!r}: fitted on {fitted} values, found {found} values")


class KeyLookup:
    """Exact value → key position lookups, with the kernel index built once per array module."""

    def __init__(self, keys):
        self.keys = keys
        self._indexes: dict[str, object] = {}

    def positions(self, cat: Categorical):
        xp = kernels.get_array_module(cat.valid)
        if len(self.keys) == 0:
            return xp.full(len(cat.valid), -1, dtype=np.int64)
        if xp.__name__ not in self._indexes:
            self._indexes[xp.__name__] = kernels.build_key_index(_kernel_keys(self.keys, xp))
        return kernels.lookup_keys(self._indexes[xp.__name__], cat.values)

    def __getstate__(self):  # the kernel index is a cache: rebuild it wherever the op lands
        return {"keys": self.keys, "_indexes": {}}


def keys_to_arrow(keys) -> pa.Array:
    return pa.array(keys, type=pa.int64()) if isinstance(keys, np.ndarray) else keys


def keys_from_arrow(array: pa.Array):
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_integer(array.type):
        return array.to_numpy(zero_copy_only=False).astype(np.int64)
    return array.cast(pa.large_binary())
