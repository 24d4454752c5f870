"""Fit statistics that merge exactly across partitions, and the exact order statistics built on them.

`KeyedSums` is a group-by-sum table: distinct keys (int64, float64 or bytes) with one or more summed
quantities per key, plus the same sums over the missing rows. Merging concatenates and re-sums, so
counts merge exactly whatever the partitioning; keys are kept sorted so the merged result does not
depend on the order of the parts either.

Example:
    >>> import numpy as np
    >>> a = KeyedSums(np.array([1, 2]), {"count": np.array([3, 1])})
    >>> b = KeyedSums(np.array([2, 5]), {"count": np.array([4, 1])})
    >>> merged = KeyedSums.merge([a, b])
    >>> merged.keys.tolist(), merged.sums["count"].tolist()
    ([1, 2, 5], [3, 5, 1])
    >>> exact_median(merged.keys.astype(float), merged.sums["count"])
    2.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["KeyedSums", "exact_median", "exact_quantiles", "merge_per_column", "sorted_unique"]


def sorted_unique(keys):
    """(distinct keys ascending, code of each input key). Bytes compare by their raw bytes."""
    if isinstance(keys, np.ndarray):
        return np.unique(keys, return_inverse=True)
    keys = keys.cast(pa.large_binary())
    uniques = pc.unique(keys)
    uniques = uniques.take(pc.sort_indices(uniques))
    return uniques, pc.index_in(keys, value_set=uniques).to_numpy(zero_copy_only=False).astype(np.int64)


def _concat_keys(parts):
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return pa.concat_arrays([p.cast(pa.large_binary()) for p in parts])


def _sum_by_code(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size,) + values.shape[1:], dtype=values.dtype)
    np.add.at(out, codes, values)
    return out


@dataclass
class KeyedSums:
    """Per distinct key, the sums of named quantities; `missing` holds the sums over missing rows."""

    keys: object  # np.ndarray (int64/float64) or pa.Array (large_binary), ascending, distinct
    sums: dict[str, np.ndarray]
    missing: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, keys, sums: dict[str, np.ndarray], missing: dict[str, np.ndarray] | None = None) -> "KeyedSums":
        """Group possibly repeated, unsorted keys into a canonical KeyedSums."""
        uniques, codes = sorted_unique(keys)
        grouped = {name: _sum_by_code(codes, np.asarray(v), len(uniques)) for name, v in sums.items()}
        return cls(uniques, grouped, dict(missing or {}))

    @classmethod
    def from_distinct(cls, keys, sums: dict[str, np.ndarray], missing: dict[str, np.ndarray] | None = None) -> "KeyedSums":
        """Like from_rows for keys known to be distinct: only sorts them."""
        if isinstance(keys, np.ndarray):
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
        else:
            keys = keys.cast(pa.large_binary())
            order = pc.sort_indices(keys).to_numpy()
            keys = keys.take(pa.array(order))
        return cls(keys, {name: np.asarray(v)[order] for name, v in sums.items()}, dict(missing or {}))

    @classmethod
    def merge(cls, parts: list["KeyedSums"]) -> "KeyedSums":
        """Exact merge: the same result for any split of the rows into parts, in any order."""
        if len(parts) == 1:
            return parts[0]
        missing = {name: np.sum([p.missing[name] for p in parts], axis=0) for name in parts[0].missing}
        # A part without values (say an all-null partition typed `null`) carries no key type: skip it.
        valued = [p for p in parts if len(p.keys)] or parts[:1]
        keys = _concat_keys([p.keys for p in valued])
        sums = {name: np.concatenate([p.sums[name] for p in valued]) for name in parts[0].sums}
        return cls.from_rows(keys, sums, missing)

    def __len__(self) -> int:
        return len(self.keys)


def exact_median(values: np.ndarray, counts: np.ndarray) -> float:
    """numpy.median of the multiset {values[i] × counts[i]} (values ascending); 0.0 when empty."""
    total = int(counts.sum())
    if total == 0:
        return 0.0
    cumulative = np.cumsum(counts)
    lower = values[np.searchsorted(cumulative, (total - 1) // 2, side="right")]
    upper = values[np.searchsorted(cumulative, total // 2, side="right")]
    return float(np.mean([lower, upper]))


def exact_quantiles(values: np.ndarray, counts: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """numpy.quantile(method="linear") of the multiset {values[i] × counts[i]} (values ascending).

    Follows NumPy's own arithmetic (virtual index (n-1)·q, then its two-sided lerp), so the edges
    equal numpy.quantile on the expanded values, not merely approximate them.
    """
    total = int(counts.sum())
    cumulative = np.cumsum(counts)
    virtual = (total - 1) * quantiles
    previous = np.floor(virtual)
    gamma = virtual - previous
    below = previous.astype(np.int64)
    above = np.minimum(below + 1, total - 1)
    a = values[np.searchsorted(cumulative, below, side="right")]
    b = values[np.searchsorted(cumulative, above, side="right")]
    diff = b - a
    result = a + diff * gamma
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), result)


def merge_per_column(parts: list[dict], merge=None) -> dict:
    """Merge {column: statistics} dicts column by column (KeyedSums.merge unless told otherwise)."""
    merge = merge or KeyedSums.merge
    return {column: merge([part[column] for part in parts]) for column in parts[0]}
