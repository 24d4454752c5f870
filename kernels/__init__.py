"""Feature kernels: one API, two backends (NumPy in `kernels.cpu`, CuPy in `kernels.gpu`).

Each function below looks at the array module of its inputs and calls the twin of the same name, so
callers never branch on the device: `kernels.gpu` is imported only when CuPy arrays come in. Which
device to *put* data on is decided in `kernels.backend.use_gpu()`. The full contract is in API.md.

Example:
    >>> import numpy as np, kernels
    >>> kernels.murmur3_int64(np.array([1], dtype=np.int64), 0)
    array([1392991556], dtype=uint32)
"""

from __future__ import annotations

import importlib
from types import ModuleType

from kernels.backend import get_array_module, gpu_available, use_gpu
from kernels.cpu.numeric import CLIP, FILL, LOG1P, NOP, SCALE, ZERO
from kernels.cpu.reductions import merge_moments

__all__ = [
    "NOP", "FILL", "CLIP", "LOG1P", "SCALE", "ZERO",
    "get_array_module", "gpu_available", "use_gpu", "backend_for",
    "murmur3_int64", "murmur3_strings", "numeric_chain", "bucketize",
    "build_key_index", "lookup_keys",
    "moments", "merge_moments", "min_max", "value_counts_int64", "value_counts_strings", "group_sums",
]


def _arrays(args) -> list:
    flat = []
    for arg in args:
        flat.extend(arg if isinstance(arg, tuple) else [arg])
    return flat


def backend_for(*args) -> ModuleType:
    """`kernels.gpu` when any argument (or member of an (offsets, data) pair) is a CuPy array."""
    is_gpu = get_array_module(*_arrays(args)).__name__ == "cupy"
    return importlib.import_module("kernels.gpu" if is_gpu else "kernels.cpu")


def murmur3_int64(values, seeds):
    """MurmurHash3 x86_32 of each int64's 8 little-endian bytes → uint32[n]."""
    return backend_for(values, seeds).murmur3_int64(values, seeds)


def murmur3_strings(offsets, data, seeds):
    """MurmurHash3 x86_32 of each row's bytes → uint32[n]."""
    return backend_for(offsets, data, seeds).murmur3_strings(offsets, data, seeds)


def numeric_chain(values, program):
    """The fused continuous-column program (API.md §3) → float32[c, n]."""
    return backend_for(values, program).numeric_chain(values, program)


def bucketize(values, edges):
    """NaN → 0, else searchsorted(edges, x, "right") + 1 → int64[n]."""
    return backend_for(values, edges).bucketize(values, edges)


def build_key_index(keys):
    """An exact lookup index over int64 keys or an (offsets, data) string pair."""
    return backend_for(keys).build_key_index(keys)


def lookup_keys(index, values):
    """Position of each value among the index's keys, or -1 → int64[n]."""
    return backend_for(values).lookup_keys(index, values)


def moments(values):
    """(count, mean, m2) of the non-NaN values."""
    return backend_for(values).moments(values)


def min_max(values):
    """(min, max) of the non-NaN values; (nan, nan) when none."""
    return backend_for(values).min_max(values)


def value_counts_int64(values, valid):
    """(uniques ascending, counts) of the valid int64 values."""
    return backend_for(values, valid).value_counts_int64(values, valid)


def value_counts_strings(offsets, data, valid):
    """(uniq_offsets, uniq_data, counts) of the valid byte strings."""
    return backend_for(offsets, data, valid).value_counts_strings(offsets, data, valid)


def group_sums(codes, y, num_groups):
    """(counts, sums) of y per group code in [0, num_groups)."""
    return backend_for(codes, y).group_sums(codes, y, num_groups)
