"""Fit reductions on the GPU (`reductions.cu`): moments, min/max and per-group sums.

Moments and min/max reduce in two launches (per-block partials, then one block merging them) and
copy back only the final scalars. Results match `kernels.cpu` within float64 rounding.

Example:
    >>> import cupy, numpy as np                                      # doctest: +SKIP
    >>> moments(cupy.array([1.0, np.nan, 3.0]))                      # doctest: +SKIP
    (2.0, 2.0, 2.0)
"""

from __future__ import annotations

import numpy as np

from kernels.gpu._runtime import BLOCK, cupy, device_array, grid_for, kernel

__all__ = ["moments", "min_max", "group_sums"]

_SOURCE = "reductions.cu"
_SHARED_GROUPS = 2048  # RAYLANE_SHARED_GROUPS in reductions.cu


def moments(values) -> tuple[float, float, float]:
    """(count, mean, m2) of the non-NaN values, m2 = Σ(x - mean)²; (0, 0, 0) when there are none."""
    values = device_array(values, cupy.float64, "moments: values")
    n = len(values)
    if n == 0:
        return 0.0, 0.0, 0.0
    blocks = grid_for(n)
    partial = cupy.empty((3, blocks), dtype=cupy.float64)
    kernel(_SOURCE, "moments_partial")((blocks,), (BLOCK,), (values, np.int64(n), *partial))
    total = cupy.empty((3, 1), dtype=cupy.float64)
    kernel(_SOURCE, "moments_merge")((1,), (BLOCK,), (*partial, np.int64(blocks), *total))
    count, mean, m2 = (float(v) for v in total.get().ravel())
    return (0.0, 0.0, 0.0) if count == 0 else (count, mean, m2)


def min_max(values) -> tuple[float, float]:
    """(min, max) of the non-NaN values; (nan, nan) when there are none."""
    values = device_array(values, cupy.float64, "min_max: values")
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    launch = kernel(_SOURCE, "min_max_partial")
    blocks = grid_for(n)
    partial = cupy.empty((2, blocks), dtype=cupy.float64)
    launch((blocks,), (BLOCK,), (values, values, np.int64(n), *partial))
    total = cupy.empty((2, 1), dtype=cupy.float64)
    launch((1,), (BLOCK,), (*partial, np.int64(blocks), *total))
    low, high = (float(v) for v in total.get().ravel())
    return low, high


def group_sums(codes, y, num_groups: int) -> tuple["cupy.ndarray", "cupy.ndarray"]:
    """Per group: how many rows and the sum of y, as float64[num_groups] each.

    Counts are exact. Sums come from float64 atomics, so their last bits depend on the order the
    rows arrive in: they match the CPU within 1e-12 relative for values of one sign; sums of
    integers below 2**53 (0/1 labels) are exact and deterministic.
    """
    codes = device_array(codes, cupy.int64, "group_sums: codes")
    y = device_array(y, cupy.float64, "group_sums: y")
    if len(codes) != len(y):
        raise ValueError(f"group_sums: {len(codes)} codes but {len(y)} values of y")
    num_groups = int(num_groups)
    counts = cupy.zeros(num_groups, dtype=cupy.float64)
    sums = cupy.zeros(num_groups, dtype=cupy.float64)
    n = len(codes)
    if n == 0:
        return counts, sums
    bad = cupy.zeros(1, dtype=cupy.int32)
    name = "group_sums_shared" if num_groups <= _SHARED_GROUPS else "group_sums_global"
    args = (codes, y, np.int64(n), np.int64(num_groups), counts, sums, bad)
    kernel(_SOURCE, name)((grid_for(n),), (BLOCK,), args)
    if int(bad.get()[0]):
        raise ValueError(f"group_sums: every code must be in [0, {num_groups})")
    return counts, sums
