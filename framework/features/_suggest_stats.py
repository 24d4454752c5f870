"""The statistics `features suggest` decides from, gathered in one streaming pass over Parquet.

Memory is bounded whatever the data size:
- exact per column: rows, missing (null or NaN), ±inf, min and max;
- a seeded uniform row sample of at most `sample_rows` rows (bottom-k of one random key per row),
  for skewness, quantiles and the integer neighbour share;
- a distinct-value sample per categorical candidate (`DistinctSketch`): the `capacity` values with the
  smallest 64-bit hash, each with its exact count. It is exact below `capacity` distinct values and
  estimates beyond (k-minimum-values, about 1/sqrt(capacity) relative error).

Example:
    >>> import pyarrow as pa
    >>> sketch = DistinctSketch(capacity=4)
    >>> sketch.add(pa.array(["a", "b", "a", None, "c"]))
    >>> sketch.distinct(), sketch.exact, sketch.rare_share(2, present=4)
    (3.0, True, 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from framework.data.parquet_io import ParquetFiles, open_parquet, partition_values, with_partitions
from framework.errors import DataError
from framework.features._arrow_arrays import is_string_type, numeric_values, plain, validity
from kernels.cpu.murmur import murmur3_int64, murmur3_strings
from kernels.cpu.strings import string_buffers

__all__ = ["DistinctSketch", "ColumnProfile", "stat_kind", "profile_columns", "BATCH_ROWS"]

BATCH_ROWS = 1 << 16  # rows per streamed batch: bounds memory whatever the row group size (and was fastest)
_HASH_SEEDS = (0x5EED0001, 0x5EED0002)  # two 32-bit murmur3 halves make a 64-bit hash


def stat_kind(data_type: pa.DataType) -> str | None:
    """`float`, `integer`, `string` (strings and binary), or None for types no feature op reads."""
    if pa.types.is_floating(data_type):
        return "float"
    if pa.types.is_integer(data_type):
        return "integer"
    return "string" if is_string_type(data_type) else None


def _hash64(values: pa.Array) -> np.ndarray:
    """A 64-bit hash per value (two seeded murmur3 halves); only used to sample distinct values."""
    if is_string_type(values.type):
        halves = [murmur3_strings(*string_buffers(values), seed) for seed in _HASH_SEEDS]
    else:
        ints = np.asarray(values.to_numpy(zero_copy_only=False)).astype(np.int64)  # uint64 wraps: still injective
        halves = [murmur3_int64(ints, seed) for seed in _HASH_SEEDS]
    return (halves[0].astype(np.uint64) << np.uint64(32)) | halves[1].astype(np.uint64)


@dataclass
class DistinctSketch:
    """The `capacity` distinct values with the smallest hash, with exact counts.

    The hash cut-off only falls, so a value kept at the end was kept from its first occurrence and its
    count is exact: the kept values are a uniform sample of the distinct values, with their counts.
    """

    capacity: int = 8192
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # sorted ascending
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def add(self, array: pa.Array) -> None:
        tallies = pc.value_counts(array)
        present = tallies.field("values").is_valid()
        values, counts = tallies.field("values").filter(present), tallies.field("counts").filter(present)
        hashes = _hash64(values)
        counts = counts.to_numpy().astype(np.int64)
        if len(self.hashes) >= self.capacity:
            below = hashes <= self.hashes[-1]
            hashes, counts = hashes[below], counts[below]
        merged, inverse = np.unique(np.concatenate([self.hashes, hashes]), return_inverse=True)
        sums = np.bincount(inverse, weights=np.concatenate([self.counts, counts]), minlength=len(merged))
        self.hashes, self.counts = merged[: self.capacity], sums[: self.capacity].astype(np.int64)

    @property
    def exact(self) -> bool:
        return len(self.hashes) < self.capacity

    def distinct(self) -> float:
        """Distinct values: exact below capacity, else the k-minimum-values estimate."""
        if self.exact:
            return float(len(self.hashes))
        return (self.capacity - 1) * 2.0**64 / (float(self.hashes[-1]) + 1.0)

    def rare_share(self, threshold: int, present: int) -> float:
        """Share of the `present` rows whose value is seen fewer than `threshold` times. Estimated from
        the rare side: rare values have bounded counts, so the scaled sum has a small variance."""
        if not len(self.counts) or not present:
            return 0.0
        scale = self.distinct() / len(self.counts)
        return min(1.0, scale * float(self.counts[self.counts < threshold].sum()) / present)

    def values_at_least(self, threshold: int) -> float:
        """Distinct values seen at least `threshold` times."""
        return self.distinct() * float(np.mean(self.counts >= threshold)) if len(self.counts) else 0.0


@dataclass
class ColumnProfile:
    """One column's statistics. `sample` holds the sampled present, finite values (int64 or float64)."""

    name: str
    arrow_type: pa.DataType
    rows: int = 0
    missing: int = 0
    infinite: int = 0
    minimum: float | int | None = None
    maximum: float | int | None = None
    sample: np.ndarray | None = None
    sketch: DistinctSketch | None = None

    @property
    def kind(self) -> str | None:
        return stat_kind(self.arrow_type)

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def missing_share(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    def skewness(self) -> float:
        """Sample skewness g1 = m3 / m2**1.5 (scipy.stats.skew's default); 0 for a constant sample."""
        x = self.sample.astype(np.float64)
        if len(x) < 2:
            return 0.0
        centred = x - x.mean()
        m2, m3 = float(np.mean(centred**2)), float(np.mean(centred**3))
        return m3 / m2**1.5 if m2 > 0 else 0.0

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.sample.astype(np.float64), q)) if len(self.sample) else float("nan")

    def neighbour_share(self) -> float:
        """Share of sampled rows whose value v has v - 1 or v + 1 among the sampled values too.
        Counts and measurements fill their range densely (near 1); codes and hashed ids do not (near 0)."""
        unique, inverse = np.unique(self.sample, return_inverse=True)
        adjacent = np.diff(unique) == 1
        has_neighbour = np.concatenate([[False], adjacent]) | np.concatenate([adjacent, [False]])
        return float(has_neighbour[inverse].mean()) if len(inverse) else 0.0


class _RowSample:
    """A uniform sample of at most `size` rows: the rows with the smallest seeded random keys."""

    def __init__(self, size: int, seed: int):
        self.size = size
        self.random = np.random.default_rng(seed)
        self.keys = np.zeros(0)
        self.columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name → (values, usable)

    def add(self, columns: dict[str, tuple[np.ndarray, np.ndarray]], rows: int) -> None:
        keys = self.random.random(rows)
        take = np.flatnonzero(keys < self.keys.max()) if len(self.keys) >= self.size else np.arange(rows)
        merged = np.concatenate([self.keys, keys[take]])
        keep = np.argsort(merged, kind="stable")[: self.size]
        self.keys = merged[keep]
        for name, (values, usable) in columns.items():
            old_values, old_usable = self.columns.get(name, (values[:0], usable[:0]))
            self.columns[name] = (np.concatenate([old_values, values[take]])[keep],
                                  np.concatenate([old_usable, usable[take]])[keep])

    def present_values(self, name: str) -> np.ndarray:
        values, usable = self.columns.get(name, (np.zeros(0), np.zeros(0, bool)))
        return values[usable]


def _numeric_arrays(array: pa.Array, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(values, usable, infinities): int64 for integer columns, float64 otherwise; usable = present
    and finite."""
    if pa.types.is_integer(array.type):
        values = np.asarray(array.fill_null(0).to_numpy(zero_copy_only=False)).astype(np.int64)
        return values, validity(array), 0
    values = numeric_values(array, name, "missing")  # null, NaN and ±inf all become NaN
    infinities = int(pc.sum(pc.is_inf(array)).as_py() or 0) if pa.types.is_floating(array.type) else 0
    return values, ~np.isnan(values), infinities


def _add_batch(profile: ColumnProfile, array: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """Fold one batch into the exact statistics; return what the row sample keeps of it, if anything."""
    profile.rows += len(array)
    if pa.types.is_null(array.type):  # an all-null batch: nothing to count, nothing usable to sample
        profile.missing += len(array)
        dtype = np.int64 if profile.kind == "integer" else np.float64
        return None if profile.kind == "string" else (np.zeros(len(array), dtype), np.zeros(len(array), bool))
    if profile.sketch is not None:
        profile.sketch.add(array)
    if profile.kind == "string":
        profile.missing += array.null_count
        return None
    values, usable, infinities = _numeric_arrays(array, profile.name)
    profile.infinite += infinities
    profile.missing += len(array) - int(usable.sum()) - infinities
    if usable.any():
        low, high = values[usable].min().item(), values[usable].max().item()
        profile.minimum = low if profile.minimum is None else min(profile.minimum, low)
        profile.maximum = high if profile.maximum is None else max(profile.maximum, high)
    return values, usable


def _file_batches(files: ParquetFiles, path: str, columns: list[str], batch_rows: int):
    """The file's rows in batches of at most `batch_rows`, partition columns included."""
    parquet = open_parquet(files, path)
    stored = parquet.schema_arrow.names
    missing = [c for c in columns if c not in stored and c not in partition_values(path)]
    if missing:
        raise DataError(f"{files.display(path)}: column(s) {missing} are missing; found {stored[:12]}")
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=[c for c in columns if c in stored]):
        yield with_partitions(pa.Table.from_batches([batch]), files, path, columns)


def _check_type(profile: ColumnProfile, found: pa.DataType, where: str) -> None:
    if not pa.types.is_null(found) and stat_kind(found) != profile.kind:
        raise DataError(f"{where}: column {profile.name!r} is {found}, but the contract says {profile.arrow_type} "
                        "(run `raylane data check`)")


def profile_columns(files: ParquetFiles, types: dict[str, pa.DataType], sample_rows: int = 100_000,
                    seed: int = 0, distinct_capacity: int = 8192,
                    batch_rows: int = BATCH_ROWS) -> tuple[int, dict[str, ColumnProfile]]:
    """(rows, name → ColumnProfile) for the columns in `types` (each of a kind `stat_kind` knows),
    in one pass over `files`, batch by batch."""
    profiles = {name: ColumnProfile(name, data_type) for name, data_type in types.items()}
    for profile in profiles.values():
        if profile.kind in ("integer", "string"):
            profile.sketch = DistinctSketch(distinct_capacity)
    sample, rows = _RowSample(sample_rows, seed), 0
    for path in files.paths:
        for batch in _file_batches(files, path, list(types), batch_rows):
            sampled = {}
            for name, profile in profiles.items():
                array = plain(batch.column(name))
                _check_type(profile, array.type, files.display(path))
                kept = _add_batch(profile, array)
                if kept is not None:
                    sampled[name] = kept
            sample.add(sampled, batch.num_rows)
            rows += batch.num_rows
    for name, profile in profiles.items():
        if profile.kind != "string":
            profile.sample = sample.present_values(name)
    return rows, profiles
