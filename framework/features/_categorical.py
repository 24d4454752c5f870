"""Categorical ops: bucketize, categorify, hash_bucket, hashed_cross.

All outputs are int64 indices with 0 reserved for missing. Hashing is `h(v, seed)` from the
contract: MurmurHash3 x86_32 of the value's int64 little-endian bytes or UTF-8 bytes.

Example:
    >>> import pyarrow as pa
    >>> from framework.features._columns import ColumnFrame
    >>> frame = ColumnFrame(pa.table({"c": ["a", None, "b"]}))
    >>> HashBucket(["c"], num_buckets=10).transform(frame)
    >>> frame.outputs["c"].tolist()
    [1, 0, 6]
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

import kernels
from framework.errors import ConfigError
from framework.features._base import CATEGORICAL, FeatureOp, OutputField
from framework.features._columns import Categorical, ColumnFrame
from framework.features._continuous import float_value_counts
from framework.features._stats import exact_quantiles, merge_per_column
from framework.features._vocabulary import KeyLookup, categorical_sums, conform_key_kind, keys_from_arrow, keys_to_arrow
from kernels.cpu.murmur import murmur3_strings

__all__ = ["Bucketize", "Categorify", "HashBucket", "HashedCross", "hash_index"]


def hash_index(cat: Categorical, num_buckets: int, seeds=0):
    """1 + h(v, seed) mod num_buckets for every row (validity not applied), int64."""
    return (cat.hash(seeds) % np.uint32(num_buckets)).astype(np.int64) + 1


class Bucketize(FeatureOp):
    """Missing → 0, else searchsorted(edges, x, "right") + 1; edges given, or fitted quantiles."""

    op_name = "bucketize"

    def __init__(self, columns: list[str], boundaries: list[float] | None = None, quantiles: int | None = None):
        self.columns = columns
        self.boundaries = boundaries
        self.quantiles = quantiles

    @property
    def stateful(self) -> bool:
        return self.quantiles is not None

    def partial_fit(self, frame: ColumnFrame) -> dict:
        return {column: float_value_counts(frame, column) for column in self.columns}

    def merge_partials(self, parts: list[dict]) -> dict:
        return merge_per_column(parts)

    def finish_fit(self, merged: dict) -> None:
        inner = np.arange(1, self.quantiles) / self.quantiles
        self.edges_ = {}
        for column, stats in merged.items():
            counts = stats.sums["count"]
            edges = exact_quantiles(stats.keys, counts, inner) if counts.sum() else np.zeros(0)
            self.edges_[column] = np.unique(edges).tolist()

    def _edges(self, column: str) -> list[float]:
        if self.quantiles is None:
            return [float(b) for b in self.boundaries]
        self._require_fitted("edges_")
        return self.edges_[column]

    def transform(self, frame: ColumnFrame) -> None:
        for column in self.columns:
            edges = frame.xp.asarray(np.asarray(self._edges(column), dtype=np.float64))
            frame.write(column, kernels.bucketize(frame.numeric(column), edges))

    def output_fields(self) -> list[OutputField]:
        return [OutputField(c, CATEGORICAL, "int64", len(self._edges(c)) + 2) for c in self.columns]

    def params(self) -> dict:
        return {"columns": list(self.columns), "boundaries": self.boundaries, "quantiles": self.quantiles}

    def state(self):
        return ({"edges": self.edges_} if self.stateful else {}), {}

    def load_state(self, scalars, tables) -> None:
        if self.stateful:
            self.edges_ = {c: [float(e) for e in edges] for c, edges in scalars["edges"].items()}


class Categorify(FeatureOp):
    """Vocabulary by count (desc) then value (asc); kept rank k → 1 + num_oov_buckets + k; others hashed."""

    op_name = "categorify"
    stateful = True

    def __init__(self, columns: list[str], freq_threshold: int = 1, max_size: int | None = None, num_oov_buckets: int = 1):
        self.columns = columns
        self.freq_threshold = freq_threshold
        self.max_size = max_size
        self.num_oov_buckets = num_oov_buckets

    def partial_fit(self, frame: ColumnFrame) -> dict:
        inputs = frame.categoricals(self.columns)
        return dict(zip(self.columns, frame.map_columns(categorical_sums, inputs)))

    def merge_partials(self, parts: list[dict]) -> dict:
        return merge_per_column(parts)

    def finish_fit(self, merged: dict) -> None:
        self.vocabulary_, self.counts_ = {}, {}
        for column, stats in merged.items():
            counts = stats.sums["count"]
            kept = np.flatnonzero(counts >= self.freq_threshold)
            # Keys are sorted ascending, so a stable sort on -count gives (count desc, value asc).
            kept = kept[np.argsort(-counts[kept], kind="stable")][: self.max_size]
            keys = stats.keys[kept] if isinstance(stats.keys, np.ndarray) else stats.keys.take(pa.array(kept))
            self.vocabulary_[column], self.counts_[column] = keys, counts[kept]
        self._lookups = {c: KeyLookup(keys) for c, keys in self.vocabulary_.items()}

    def _encode(self, column: str, cat: Categorical):
        rank = self._lookups[column].positions(cat)
        index = rank + (1 + self.num_oov_buckets)
        index[~cat.valid] = 0
        unseen = kernels.get_array_module(rank).flatnonzero((rank < 0) & cat.valid)
        if len(unseen) and self.num_oov_buckets == 1:
            index[unseen] = 1  # 1 + h(v, 0) mod 1
        elif len(unseen):  # hash only the out-of-vocabulary rows
            index[unseen] = hash_index(cat.take(unseen), self.num_oov_buckets)
        return index

    def transform(self, frame: ColumnFrame) -> None:
        self._require_fitted("vocabulary_")
        inputs = [
            (column, conform_key_kind(column, self.vocabulary_[column], cat))
            for column, cat in zip(self.columns, frame.categoricals(self.columns))
        ]
        for column, index in zip(self.columns, frame.map_columns(lambda item: self._encode(*item), inputs)):
            frame.write(column, index)

    def output_fields(self) -> list[OutputField]:
        cardinality = {c: 1 + self.num_oov_buckets + len(self.vocabulary_[c]) for c in self.columns}
        return [OutputField(c, CATEGORICAL, "int64", cardinality[c]) for c in self.columns]

    def params(self) -> dict:
        return {
            "columns": list(self.columns),
            "freq_threshold": self.freq_threshold,
            "max_size": self.max_size,
            "num_oov_buckets": self.num_oov_buckets,
        }

    def state(self):
        tables = {
            column: pa.table({"value": keys_to_arrow(self.vocabulary_[column]), "count": self.counts_[column]})
            for column in self.columns
        }
        return {}, tables

    def load_state(self, scalars, tables) -> None:
        self.vocabulary_ = {c: keys_from_arrow(tables[c].column("value")) for c in self.columns}
        self.counts_ = {c: tables[c].column("count").to_numpy().astype(np.int64) for c in self.columns}
        self._lookups = {c: KeyLookup(keys) for c, keys in self.vocabulary_.items()}


def salt_seed(variable: str) -> int:
    """The hash seed of a secret salt: h(UTF-8 bytes of the salt, 0), read from the environment."""
    salt = os.environ.get(variable)
    if not salt:
        raise ConfigError(f"hash_bucket: salt_env names {variable}, which is not set; set the same secret salt "
                          "wherever the pipeline is fitted or applied")
    data = np.frombuffer(salt.encode("utf-8"), dtype=np.uint8)
    return int(murmur3_strings(np.array([0, data.size], dtype=np.int32), data, 0)[0])


class HashBucket(FeatureOp):
    """Missing → 0, else 1 + h(v, seed) mod num_buckets; seed 0, or the salt's seed with `salt_env`.

    A salted hash is how a column with the role `pii` may become a feature: the buckets cannot be
    reversed to the raw values without the salt, which lives only in the environment variable (never
    in the artifact, the config or the tracking store).
    """

    op_name = "hash_bucket"

    def __init__(self, columns: list[str], num_buckets: int, salt_env: str | None = None):
        self.columns = columns
        self.num_buckets = num_buckets
        self.salt_env = salt_env

    def transform(self, frame: ColumnFrame) -> None:
        seed = salt_seed(self.salt_env) if self.salt_env else 0
        for column in self.columns:
            cat = frame.categorical(column)
            frame.write(column, frame.xp.where(cat.valid, hash_index(cat, self.num_buckets, seed), 0))

    def output_fields(self) -> list[OutputField]:
        return [OutputField(c, CATEGORICAL, "int64", self.num_buckets + 1) for c in self.columns]

    def params(self) -> dict:
        params = {"columns": list(self.columns), "num_buckets": self.num_buckets}
        return {**params, "salt_env": self.salt_env} if self.salt_env else params


class HashedCross(FeatureOp):
    """`a_x_b`: 0 if any member is missing, else 1 + (chained h over the members) mod num_buckets."""

    op_name = "hashed_cross"

    def __init__(self, groups: list[list[str]], num_buckets: int):
        self.groups = groups
        self.num_buckets = num_buckets

    def reads(self) -> list[str]:
        return list(dict.fromkeys(c for group in self.groups for c in group))

    def writes(self) -> list[str]:
        return ["_x_".join(group) for group in self.groups]

    def _cross(self, members: list[Categorical]):
        seeds, valid = members[0].hash(0), members[0].valid
        for member in members[1:]:
            seeds, valid = member.hash(seeds), valid & member.valid
        index = (seeds % np.uint32(self.num_buckets)).astype(np.int64) + 1
        index[~valid] = 0
        return index

    def transform(self, frame: ColumnFrame) -> None:
        converted = dict(zip(self.reads(), frame.categoricals(self.reads())))
        inputs = [[converted[column] for column in group] for group in self.groups]
        for name, index in zip(self.writes(), frame.map_columns(self._cross, inputs)):
            frame.write(name, index)

    def output_fields(self) -> list[OutputField]:
        return [OutputField(name, CATEGORICAL, "int64", self.num_buckets + 1) for name in self.writes()]

    def params(self) -> dict:
        return {"groups": [list(g) for g in self.groups], "num_buckets": self.num_buckets}
