"""Value counts of int64 and string columns on the GPU.

Integers go through `cupy.unique` (a sort). Strings are counted exactly in one pass over the hash
table of `key_index.cu` (each row adds 1 to the slot holding its bytes), then the distinct rows are
gathered into a compact (offsets, data) pair (`strings.cu`).

Example:
    >>> import cupy                                                            # doctest: +SKIP
    >>> value_counts_int64(cupy.array([5, 3, 5]), cupy.array([True, True, True]))  # doctest: +SKIP
    (array([3, 5]), array([1, 2]))
"""

from __future__ import annotations

import numpy as np

from kernels.gpu._runtime import BLOCK, cupy, device_array, grid_for, kernel, offsets_array
from kernels.gpu.key_index import build_table, slot_positions

__all__ = ["value_counts_int64", "value_counts_strings"]


def value_counts_int64(values, valid) -> tuple["cupy.ndarray", "cupy.ndarray"]:
    """Distinct valid values (ascending) and how often each occurs, both int64."""
    values = device_array(values, cupy.int64, "value_counts_int64: values")
    valid = device_array(valid, cupy.bool_, "value_counts_int64: valid")
    if len(valid) != len(values):
        raise ValueError(f"value_counts_int64: {len(values)} values but {len(valid)} valid flags")
    present = values[valid]
    if present.size == 0:
        return cupy.empty(0, dtype=cupy.int64), cupy.empty(0, dtype=cupy.int64)
    uniques, counts = cupy.unique(present, return_counts=True)
    return uniques.astype(cupy.int64, copy=False), counts.astype(cupy.int64, copy=False)


def value_counts_strings(offsets, data, valid):
    """Distinct valid byte strings as (uniq_offsets int64[k+1] from 0, uniq_data uint8, counts int64[k]).

    Uniques come in order of first occurrence (the API allows any order; this one is deterministic).
    """
    offsets = device_array(offsets_array(offsets), cupy.int64, "offsets")
    data = device_array(data, cupy.uint8, "data")
    valid = device_array(valid, cupy.bool_, "valid")
    slots, slot_counts = build_table(offsets, data, valid=valid, count=True)
    occupied = slot_counts > 0
    rows = slot_positions(slots[occupied])
    counts = slot_counts[occupied].astype(cupy.int64)
    order = cupy.argsort(rows)
    rows, counts = rows[order], counts[order]
    k = len(rows)
    uniq_offsets = cupy.zeros(k + 1, dtype=cupy.int64)
    if k == 0:
        return uniq_offsets, cupy.empty(0, dtype=cupy.uint8), counts
    uniq_offsets[1:] = cupy.cumsum(offsets[rows + 1] - offsets[rows])
    uniq_data = cupy.empty(int(uniq_offsets[-1]), dtype=cupy.uint8)
    args = (offsets, data, rows, np.int64(k), uniq_offsets, uniq_data)
    kernel("strings.cu", "gather_strings")((grid_for(k),), (BLOCK,), args)
    return uniq_offsets, uniq_data, counts
