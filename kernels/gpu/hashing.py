"""MurmurHash3 x86_32 of int64 values and of Arrow string rows, on the GPU (`hashing.cu`).

Bit-identical to `kernels.cpu.murmur3_int64` / `murmur3_strings` and to
`sklearn.utils.murmurhash3_32(bytes, seed, positive=True)`.

Example:
    >>> import cupy                                                   # doctest: +SKIP
    >>> murmur3_int64(cupy.array([1], dtype=cupy.int64), 0)           # doctest: +SKIP
    array([1392991556], dtype=uint32)
"""

from __future__ import annotations

import numpy as np

from kernels.gpu._runtime import BLOCK, cupy, device_array, grid_for, kernel, offsets_array

__all__ = ["murmur3_int64", "murmur3_strings"]

_SOURCE = "hashing.cu"


def _seeds(seeds, n: int) -> tuple["cupy.ndarray", np.int64]:
    """(uint32 device seeds, step): one seed per row (step 1) or one shared seed (step 0)."""
    seeds = cupy.asarray(seeds)
    if seeds.ndim == 0:
        return cupy.ascontiguousarray(seeds.astype(cupy.uint32).reshape(1)), np.int64(0)
    if seeds.shape != (n,):
        raise ValueError(f"seeds: expected a scalar or {n} values, got shape {seeds.shape}")
    return device_array(seeds, cupy.uint32, "seeds"), np.int64(1)


def murmur3_int64(values, seeds) -> "cupy.ndarray":
    """MurmurHash3 x86_32 of the 8 little-endian bytes of each int64 → uint32[n]."""
    values = device_array(values, cupy.int64, "values")
    n = len(values)
    seeds, step = _seeds(seeds, n)
    out = cupy.empty(n, dtype=cupy.uint32)
    if n:
        kernel(_SOURCE, "murmur3_int64")((grid_for(n),), (BLOCK,), (values, seeds, step, np.int64(n), out))
    return out


def murmur3_strings(offsets, data, seeds) -> "cupy.ndarray":
    """MurmurHash3 x86_32 of each row `data[offsets[i]:offsets[i+1]]` → uint32[n]."""
    offsets = offsets_array(offsets)
    data = device_array(data, cupy.uint8, "data")
    n = len(offsets) - 1
    seeds, step = _seeds(seeds, n)
    out = cupy.empty(n, dtype=cupy.uint32)
    if n:
        name = "murmur3_strings_i32" if offsets.dtype == np.int32 else "murmur3_strings_i64"
        kernel(_SOURCE, name)((grid_for(n),), (BLOCK,), (offsets, data, seeds, step, np.int64(n), out))
    return out
