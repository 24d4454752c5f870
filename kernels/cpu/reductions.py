"""Fit reductions (moments, min/max, value counts, group sums): CPU twins of the GPU reductions.

Each returns statistics that merge exactly across partitions (counts) or by Chan's parallel update
(moments, see `merge_moments`).

Example:
    >>> import numpy as np
    >>> moments(np.array([1.0, np.nan, 3.0]))
    (2.0, 2.0, 2.0)
    >>> merge_moments((1.0, 1.0, 0.0), (1.0, 3.0, 0.0))
    (2.0, 2.0, 2.0)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kernels.cpu.strings import binary_array, string_buffers

__all__ = ["moments", "merge_moments", "min_max", "value_counts_int64", "value_counts_strings", "group_sums"]


def moments(values: np.ndarray) -> tuple[float, float, float]:
    """(count, mean, m2) of the non-NaN values, m2 = Σ(x - mean)²; (0, 0, 0) when there are none."""
    present = np.asarray(values, dtype=np.float64)
    present = present[~np.isnan(present)]
    if len(present) == 0:
        return 0.0, 0.0, 0.0
    mean = float(present.mean())
    centred = present - mean
    return float(len(present)), mean, float(np.dot(centred, centred))


def merge_moments(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    """Chan et al.'s parallel update of two (count, mean, m2) triples."""
    count_a, mean_a, m2_a = a
    count_b, mean_b, m2_b = b
    if count_a == 0:
        return b
    if count_b == 0:
        return a
    count = count_a + count_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (count_b / count)
    return count, mean, m2_a + m2_b + delta * delta * (count_a * count_b / count)


def min_max(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of the non-NaN values; (nan, nan) when there are none."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return float("nan"), float("nan")
    return float(present.min()), float(present.max())


def value_counts_int64(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct valid values (ascending) and how often each occurs."""
    # np.unique beat Arrow's hash-based value_counts 1.5-3x on 1M Zipf int64 (and is already sorted).
    present = np.asarray(values, dtype=np.int64)[np.asarray(valid, dtype=bool)]
    uniques, counts = np.unique(present, return_counts=True)
    return uniques, counts.astype(np.int64)


def value_counts_strings(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray):
    """Distinct valid byte strings as (uniq_offsets int64[k+1] from 0, uniq_data uint8, counts int64[k])."""
    strings = binary_array(offsets, data).filter(pa.array(np.asarray(valid, dtype=bool)))
    counted = pc.value_counts(strings)
    uniq_offsets, uniq_data = string_buffers(counted.field("values"))
    base = int(uniq_offsets[0])
    uniq_data = uniq_data[base : int(uniq_offsets[-1])]
    return uniq_offsets.astype(np.int64) - base, uniq_data, counted.field("counts").to_numpy().astype(np.int64)


def group_sums(codes: np.ndarray, y: np.ndarray, num_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: how many rows and the sum of y, as float64[num_groups] each. Codes must lie in
    [0, num_groups): the GPU twin refuses others the same way."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= num_groups):
        raise ValueError(f"group_sums: codes must lie in [0, {num_groups}), found {codes.min()}..{codes.max()}")
    counts = np.bincount(codes, minlength=num_groups).astype(np.float64)
    sums = np.bincount(codes, weights=np.asarray(y, dtype=np.float64), minlength=num_groups).astype(np.float64)
    return counts, sums
