"""Exact key lookup (value → position in a key list, or -1): the CPU twin of the GPU hash lookup.

Both integer and string keys use Arrow's hash-based `index_in` on arrays rebuilt zero-copy from
the kernel buffers. It compares whole values, so there is never a false match, and it beat a sorted
`searchsorted` by 2–10× on 1M Zipf-distributed lookups for 10 to 1M keys.

Example:
    >>> import numpy as np
    >>> index = build_key_index(np.array([30, 10, 20]))
    >>> lookup_keys(index, np.array([10, 99, 30]))
    array([ 1, -1,  0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kernels.cpu.strings import binary_array

__all__ = ["KeyIndex", "build_key_index", "lookup_keys"]


@dataclass(frozen=True)
class KeyIndex:
    keys: pa.Array  # int64 or large_binary
    is_string: bool


def _as_arrow(values) -> pa.Array:
    if isinstance(values, tuple):
        return binary_array(*values)
    return pa.array(np.ascontiguousarray(values, dtype=np.int64))


def build_key_index(keys) -> KeyIndex:
    """Prepare `keys` (int64[k] or an (offsets, data) pair of distinct strings) for lookups."""
    return KeyIndex(_as_arrow(keys), isinstance(keys, tuple))


def lookup_keys(index: KeyIndex, values) -> np.ndarray:
    """Position of each value among the keys, or -1 when absent; int64[n]."""
    if isinstance(values, tuple) != index.is_string:
        kinds = ("string", "integer") if index.is_string else ("integer", "string")
        raise TypeError(f"lookup_keys: {kinds[0]} keys cannot look up {kinds[1]} values")
    found = pc.index_in(_as_arrow(values), value_set=index.keys)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
