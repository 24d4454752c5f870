"""The benchmark pipeline written the way a careful engineer would with pandas + scikit-learn, and
with polars: same ops, same semantics as FEATURES.md, so the outputs can be checked against raylane.

Neither library has MurmurHash3 over int64/UTF-8 bytes as a vectorized op, so both hash each
*distinct* value (or value pair) once in Python with sklearn's murmurhash3_32 and then gather by code;
that is the cheapest exact way available to them.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.preprocessing import StandardScaler, TargetEncoder
from sklearn.utils import murmurhash3_32


def _h(value, seed: int = 0) -> int:
    raw = value.encode() if isinstance(value, str) else int(value).to_bytes(8, "little", signed=True)
    return murmurhash3_32(raw, seed=int(seed), positive=True)


def hash_distinct_pairs(first: list, second: list, buckets: int) -> list[int]:
    """1 + h(b, h(a, 0)) mod buckets for each distinct (a, b) pair: one Python hash call per pair."""
    first_hash = {value: _h(value, 0) for value in set(first)}
    return [1 + _h(b, first_hash[a]) % buckets for a, b in zip(first, second)]


def _f32(frame):
    return frame.astype(np.float32).astype(np.float64)


class PandasSklearn:
    """fit(df) / transform(df) for the benchmark pipeline (see benchmarks/features.py)."""

    def __init__(self, spec: dict):
        self.spec = spec

    def _numeric(self, df: pd.DataFrame) -> pd.DataFrame:
        x = _f32(df[self.spec["numeric"]].astype(np.float64).fillna(0.0))
        x = _f32(x.clip(lower=0.0))
        return _f32(np.log1p(x))

    def fit(self, df: pd.DataFrame) -> "PandasSklearn":
        self.scaler_ = StandardScaler().fit(self._numeric(df))
        te = self.spec["te"]
        self.te_ = TargetEncoder(smooth=self.spec["smoothing"], target_type="continuous")
        self.te_.fit(df[[te]].astype(object).where(df[[te]].notna(), np.nan), df["label"].astype(np.float64))
        self.vocab_ = {}
        for column in self.spec["categorical"]:
            codes, uniques = pd.factorize(df[column], use_na_sentinel=True)
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            kept = np.flatnonzero(counts >= self.spec["freq_threshold"])
            order = np.lexsort((np.asarray(uniques)[kept], -counts[kept]))  # count desc, then value asc
            self.vocab_[column] = pd.Index(np.asarray(uniques)[kept][order])
        return self

    def _cross(self, df: pd.DataFrame, a: str, b: str) -> np.ndarray:
        codes_a, uniques_a = pd.factorize(df[a])
        codes_b, uniques_b = pd.factorize(df[b])
        valid = (codes_a >= 0) & (codes_b >= 0)
        pairs, inverse = np.unique(codes_a[valid].astype(np.int64) * len(uniques_b) + codes_b[valid], return_inverse=True)
        first, second = np.divmod(pairs, len(uniques_b))
        hashed = hash_distinct_pairs(list(uniques_a[first]), list(uniques_b[second]), self.spec["num_buckets"])
        out = np.zeros(len(df), dtype=np.int64)
        out[valid] = np.asarray(hashed, dtype=np.int64)[inverse]
        return out

    def transform(self, df: pd.DataFrame) -> dict:
        out = {}
        scaled = self.scaler_.transform(self._numeric(df)).astype(np.float32)
        out.update({c: scaled[:, i] for i, c in enumerate(self.spec["numeric"])})
        te = self.spec["te"]
        raw = df[[te]].astype(object).where(df[[te]].notna(), np.nan)
        out[f"{te}_te"] = self.te_.transform(raw)[:, 0].astype(np.float32)
        started = time.perf_counter()
        for a, b in self.spec["crosses"]:
            out[f"{a}_x_{b}"] = self._cross(df, a, b)
        self.cross_seconds_ = time.perf_counter() - started  # hashing distinct pairs in Python
        for column in self.spec["categorical"]:
            rank = self.vocab_[column].get_indexer(df[column])
            index = np.where(rank >= 0, rank + 2, 1)  # one OOV bucket: 1 + h(v) mod 1 = 1
            out[column] = np.where(df[column].isna().to_numpy(), 0, index).astype(np.int64)
        return out


class Polars:
    """The same pipeline with polars expressions (hashes per distinct value in Python, as above)."""

    def __init__(self, spec: dict):
        self.spec = spec

    def _numeric_exprs(self):
        import polars as pl

        exprs = []
        for c in self.spec["numeric"]:
            x = pl.col(c).cast(pl.Float64).fill_nan(None).fill_null(0.0).cast(pl.Float32).cast(pl.Float64)
            x = x.clip(lower_bound=0.0).cast(pl.Float32).cast(pl.Float64)
            x = pl.when(x <= -1).then(None).otherwise(x.log1p()).cast(pl.Float32).cast(pl.Float64)
            exprs.append(x.alias(c))
        return exprs

    def fit(self, df) -> "Polars":
        import polars as pl

        logged = df.select(self._numeric_exprs())
        self.mean_ = logged.mean().row(0)
        self.std_ = [s if s > 0 else 1.0 for s in logged.std(ddof=0).row(0)]
        te, smoothing = self.spec["te"], self.spec["smoothing"]
        self.y_mean_ = df["label"].cast(pl.Float64).mean()
        self.te_ = df.group_by(te).agg(((pl.col("label").cast(pl.Float64).sum() + smoothing * self.y_mean_)
                                        / (pl.len() + smoothing)).alias(f"{te}_te"))
        self.vocab_ = {}
        for c in self.spec["categorical"]:
            counts = df.group_by(c).len().drop_nulls(c).filter(pl.col("len") >= self.spec["freq_threshold"])
            ranked = counts.sort(["len", c], descending=[True, False]).with_row_index("rank")
            self.vocab_[c] = (ranked[c], ranked["rank"].cast(pl.Int64) + 2)
        return self

    def _cross(self, df, a: str, b: str):
        import polars as pl

        pairs = df.select(a, b).unique().drop_nulls()
        hashed = hash_distinct_pairs(pairs[a].to_list(), pairs[b].to_list(), self.spec["num_buckets"])
        lookup = pairs.with_columns(pl.Series(f"{a}_x_{b}", hashed, dtype=pl.Int64))
        joined = df.select(a, b).join(lookup, on=[a, b], how="left", maintain_order="left")
        return joined[f"{a}_x_{b}"].fill_null(0)

    def transform(self, df) -> dict:
        import polars as pl

        exprs = [((e - m) / s).cast(pl.Float32) for e, m, s in zip(self._numeric_exprs(), self.mean_, self.std_)]
        for c in self.spec["categorical"]:
            values, ranks = self.vocab_[c]
            exprs.append(pl.when(pl.col(c).is_null()).then(0).otherwise(pl.col(c).replace_strict(values, ranks, default=1)).alias(c))
        out = df.select(exprs)
        te = self.spec["te"]
        encoded = df.select(te).join(self.te_, on=te, how="left", nulls_equal=True, maintain_order="left")
        result = {c: out[c] for c in out.columns}
        result[f"{te}_te"] = encoded[f"{te}_te"].fill_null(self.y_mean_).cast(pl.Float32)
        started = time.perf_counter()
        for a, b in self.spec["crosses"]:
            result[f"{a}_x_{b}"] = self._cross(df, a, b)
        self.cross_seconds_ = time.perf_counter() - started  # hashing distinct pairs in Python
        return result


def timed(fn, *args, cpu: dict | None = None, key: str = ""):
    """(fn(*args), wall seconds); with `cpu`, also records this process's CPU seconds under `key`."""
    started, cpu_started = time.perf_counter(), time.process_time()
    value = fn(*args)
    if cpu is not None:
        cpu[key] = time.process_time() - cpu_started
    return value, time.perf_counter() - started


def to_numpy_outputs(outputs: dict) -> dict:
    return {k: (v.to_numpy() if hasattr(v, "to_numpy") else np.asarray(v)) for k, v in outputs.items()}


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()
