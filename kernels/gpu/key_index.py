"""Exact key lookup on the GPU: an open-addressing hash table built with atomicCAS (`key_index.cu`).

The table has a power-of-two capacity of at least twice the key count (load ≤ 0.5, so probe
chains stay short). A slot holds the position of a key and, so that a probe is one load, the key
itself (int64) or its 32-bit hash (strings; see key_index.cu for the layout). Lookups compare whole
keys (bytes for strings), so a value never matches a key it differs from.

Example:
    >>> import cupy                                                    # doctest: +SKIP
    >>> index = build_key_index(cupy.array([30, 10, 20]))              # doctest: +SKIP
    >>> lookup_keys(index, cupy.array([10, 99, 30]))                   # doctest: +SKIP
    array([ 1, -1,  0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels.gpu._runtime import BLOCK, cupy, device_array, grid_for, kernel, offsets_array

__all__ = ["DeviceKeyIndex", "build_key_index", "lookup_keys", "build_table", "slot_positions"]

_SOURCE = "key_index.cu"
_MIN_CAPACITY = 16
_MAX_KEYS = 2**31 - 2  # string slots keep a 32-bit position
_EMPTY_STRING_SLOT = np.uint64(2**64 - 1)  # RAYLANE_EMPTY in key_index.cu


@dataclass(frozen=True)
class DeviceKeyIndex:
    """A built table. `keys` is int64[k], or int64 offsets[k+1] into `data` for string keys."""

    keys: "cupy.ndarray"
    data: "cupy.ndarray | None"
    slots: "cupy.ndarray"  # int64[capacity, 2] {key, position} or uint64[capacity] (hash << 32 | position)

    @property
    def mask(self) -> np.int64:
        return np.int64(len(self.slots) - 1)


def _capacity(k: int) -> int:
    return max(_MIN_CAPACITY, 1 << (2 * k - 1).bit_length())


def build_table(keys, data=None, valid=None, count: bool = False):
    """Insert the (valid) rows of `keys` (int64, or int64 offsets into `data`) into a new table.

    Returns (slots, slot_counts): with `count`, slot_counts[s] is how many rows hold the key of
    slot s (else None). A key met more than once keeps its first position.
    """
    k = len(keys) - (0 if data is None else 1)
    if k > _MAX_KEYS:
        raise ValueError(f"build_key_index: at most {_MAX_KEYS} keys, got {k}")
    if data is None:
        slots = cupy.full((_capacity(k), 2), -1, dtype=cupy.int64)
    else:
        slots = cupy.full(_capacity(k), _EMPTY_STRING_SLOT, dtype=cupy.uint64)
    slot_counts = cupy.zeros(len(slots) if count else 1, dtype=cupy.uint64)
    if k == 0:
        return slots, (slot_counts if count else None)
    has_valid = np.int32(valid is not None)
    if valid is None:
        valid = cupy.ones(1, dtype=cupy.bool_)  # a placeholder the kernel does not read
    else:
        valid = device_array(valid, cupy.bool_, "valid")
        if len(valid) != k:
            raise ValueError(f"valid: expected {k} flags, got {len(valid)}")
    mask = np.int64(len(slots) - 1)
    table_args = (valid, has_valid, np.int64(k), slots, mask, slot_counts, np.int32(count))
    if data is None:
        kernel(_SOURCE, "key_index_insert_int64")((grid_for(k),), (BLOCK,), (keys, *table_args))
    else:
        kernel(_SOURCE, "key_index_insert_strings")((grid_for(k),), (BLOCK,), (keys, data, *table_args))
    return slots, (slot_counts if count else None)


def slot_positions(slots) -> "cupy.ndarray":
    """The key position held by each string-table slot, as int64 (meaningful for occupied slots)."""
    return (slots & np.uint64(0xFFFFFFFF)).astype(cupy.int64)


def build_key_index(keys) -> DeviceKeyIndex:
    """Index `keys` (int64[k] or an (offsets, data) pair of distinct strings) for `lookup_keys`."""
    if isinstance(keys, tuple):
        offsets, data = keys
        # Widening the (small) key offsets once keeps one insert kernel and no per-lookup cost.
        offsets = device_array(offsets_array(offsets, "keys offsets"), cupy.int64, "keys offsets")
        data = device_array(data, cupy.uint8, "keys data")
        slots, _ = build_table(offsets, data)
        return DeviceKeyIndex(offsets, data, slots)
    keys = device_array(keys, cupy.int64, "keys")
    slots, _ = build_table(keys)
    return DeviceKeyIndex(keys, None, slots)


def lookup_keys(index: DeviceKeyIndex, values) -> "cupy.ndarray":
    """Position of each value among the index's keys, or -1 when absent → int64[n]."""
    if not isinstance(index, DeviceKeyIndex):
        raise TypeError(f"lookup_keys: expected an index built by kernels.gpu, got {type(index).__name__}")
    if (index.data is not None) != isinstance(values, tuple):
        kinds = ("int64 keys", "an int64 array") if index.data is None else ("string keys", "an (offsets, data) pair")
        raise TypeError(f"lookup_keys: an index over {kinds[0]} needs {kinds[1]} of values")
    if index.data is None:
        values = device_array(values, cupy.int64, "values")
        n = len(values)
        name, value_args = "key_index_lookup_int64", (values,)
        table_args = (index.slots, index.mask)
    else:
        offsets = offsets_array(values[0], "values offsets")
        n = len(offsets) - 1
        suffix = "i32" if offsets.dtype == np.int32 else "i64"
        name, value_args = f"key_index_lookup_strings_{suffix}", (offsets, device_array(values[1], cupy.uint8, "data"))
        table_args = (index.keys, index.data, index.slots, index.mask)
    out = cupy.empty(n, dtype=cupy.int64)
    if n:
        kernel(_SOURCE, name)((grid_for(n),), (BLOCK,), (*table_args, *value_args, np.int64(n), out))
    return out
