"""target_encoding: `<col>_te` = (Σy + smoothing·ȳ)/(n + smoothing) per value; unseen → ȳ.

Per value (missing counts as a value of its own) the fit keeps n and Σy *per fold*, fold =
h(row id, fold_seed) mod kfold, whenever the pipeline has an id column. The artifact stores them, so
any process holding the artifact can encode training rows out of fold (each row with the statistics
of the other folds only) and other rows in sample (all folds), with the same numbers.

Example:
    >>> import pyarrow as pa
    >>> from framework.features._columns import ColumnFrame
    >>> table = pa.table({"c": ["a", "a", "b"], "y": [1, 0, 1]})
    >>> op = TargetEncoding(["c"], target="y", smoothing=1.0)
    >>> op.finish_fit(op.merge_partials([op.partial_fit(ColumnFrame(table))]))
    >>> frame = ColumnFrame(table); op.transform(frame)
    >>> [round(float(v), 4) for v in frame.outputs["c_te"]]
    [0.5556, 0.5556, 0.8333]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

import kernels
from framework.errors import ConfigError, DataError
from framework.features._base import CONTINUOUS, FeatureOp, OutputField
from framework.features._columns import ColumnFrame, to_host
from framework.features._stats import KeyedSums
from framework.features._vocabulary import KeyLookup, categorical_sums, conform_key_kind, keys_from_arrow, keys_to_arrow

__all__ = ["TargetEncoding"]


def _fold_column(values: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])


def _from_fold_column(column, folds: int) -> np.ndarray:
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return column.flatten().to_numpy().astype(np.float64).reshape(-1, folds)


class TargetEncoding(FeatureOp):
    """sklearn.preprocessing.TargetEncoder(smooth=smoothing) for fit then transform."""

    op_name = "target_encoding"
    stateful = True
    reads_row_id = True

    def __init__(self, columns: list[str], target: str, smoothing: float = 20.0, kfold: int = 5, fold_seed: int = 0):
        self.columns = columns
        self.target = target
        self.smoothing = smoothing
        self.kfold = kfold
        self.fold_seed = fold_seed

    def fit_reads(self) -> list[str]:
        return list(self.columns) + [self.target]

    def writes(self) -> list[str]:
        return [f"{c}_te" for c in self.columns]

    def output_fields(self) -> list[OutputField]:
        return [OutputField(name, CONTINUOUS, "float32") for name in self.writes()]

    # -- fitting -------------------------------------------------------------------------------
    def _target(self, frame: ColumnFrame):
        y = frame.numeric(self.target)
        missing = int(to_host(frame.xp.isnan(y)).sum())
        if missing:
            raise DataError(f"column {self.target!r}: {missing} rows have no target; target_encoding needs one on every row")
        return y

    def _folds(self, frame: ColumnFrame):
        """fold = h(row id, fold_seed) mod kfold per row; None without an id column."""
        if frame.id_column is None:
            return None
        ids = frame.categorical(frame.id_column)
        if not bool(to_host(ids.valid).all()):
            raise DataError(f"column {frame.id_column!r}: row ids must not be missing (they pick target-encoding folds)")
        return (ids.hash(self.fold_seed) % np.uint32(self.kfold)).astype(np.int64)

    def partial_fit(self, frame: ColumnFrame) -> dict:
        y, folds = self._target(frame), self._folds(frame)
        groups = self.kfold if folds is not None else 1
        quantities = {"n": (folds, frame.xp.ones_like(y)), "sum": (folds, y)}
        inputs = frame.categoricals(self.columns)
        sums = frame.map_columns(lambda cat: categorical_sums(cat, quantities, groups), inputs)
        codes = folds if folds is not None else frame.xp.zeros(len(y), dtype=np.int64)
        n, total = kernels.group_sums(codes, y, groups)
        return {"columns": dict(zip(self.columns, sums)), "target": {"n": to_host(n), "sum": to_host(total)}}

    def merge_partials(self, parts: list[dict]) -> dict:
        columns = {c: KeyedSums.merge([p["columns"][c] for p in parts]) for c in self.columns}
        target = {k: np.sum([p["target"][k] for p in parts], axis=0) for k in ("n", "sum")}
        return {"columns": columns, "target": target}

    def finish_fit(self, merged: dict) -> None:
        # n and Σy per value and fold ([k, folds]); one fold when the pipeline has no id column.
        self.stats_ = {
            column: KeyedSums(stats.keys, {k: stats.sums[k] for k in ("n", "sum")}, {k: stats.missing[k] for k in ("n", "sum")})
            for column, stats in merged["columns"].items()
        }
        self.target_ = {k: np.asarray(v, dtype=np.float64) for k, v in merged["target"].items()}
        total_n = float(self.target_["n"].sum())
        self.mean_ = float(self.target_["sum"].sum()) / total_n if total_n else 0.0
        self._lookups = {c: KeyLookup(s.keys) for c, s in self.stats_.items()}
        self._encoding_tables: dict[tuple, tuple] = {}  # (column, array module) → tables; a cache

    def __getstate__(self):  # the cache is rebuilt wherever the op lands (it may hold device arrays)
        return {**self.__dict__, "_encoding_tables": {}}

    # -- transforming --------------------------------------------------------------------------
    def _encode(self, sums, n, mean):
        return (sums + self.smoothing * mean) / (n + self.smoothing)

    def transform(self, frame: ColumnFrame) -> None:
        self._require_fitted("stats_")
        folds = self._out_of_fold_folds(frame) if frame.out_of_fold else None
        inputs = frame.categoricals(self.columns)
        for column, cat in zip(self.columns, inputs):
            cat = conform_key_kind(column, self.stats_[column].keys, cat)
            # Row r reads table row `slot`: a value's position, then "missing", then "unseen" (zeros).
            position = self._lookups[column].positions(cat)
            keys = len(self.stats_[column].keys)
            slot = frame.xp.where(cat.valid, frame.xp.where(position >= 0, position, keys + 1), keys)
            if folds is None:
                n, sums = self._slot_tables(column, frame.xp, out_of_fold=False)
                encoded = self._encode(sums[slot], n[slot], self.mean_)
            else:
                other_n, other_sum = self._slot_tables(column, frame.xp, out_of_fold=True)
                encoded = self._encode(other_sum[slot, folds], other_n[slot, folds], frame.xp.asarray(self._fold_means())[folds])
            frame.write(f"{column}_te", encoded.astype(np.float32))

    def _slot_tables(self, column: str, xp, out_of_fold: bool) -> tuple:
        """n and Σy per slot on `xp`: over all folds ([slots]), or outside each fold ([slots, folds]).
        Built once per column and array module: a request of one row must not pay O(values)."""
        key = (column, xp.__name__, out_of_fold)
        if key not in self._encoding_tables:
            n, sums = (xp.asarray(table) for table in self._tables(column))
            if out_of_fold:
                tables = (n.sum(axis=1, keepdims=True) - n, sums.sum(axis=1, keepdims=True) - sums)
            else:
                tables = (n.sum(axis=1), sums.sum(axis=1))
            self._encoding_tables[key] = tables
        return self._encoding_tables[key]

    def _tables(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """n and Σy as [values + missing + unseen, folds] tables."""
        stats = self.stats_[column]
        folds = self.target_["n"].shape[0]
        n = np.vstack([stats.sums["n"], np.reshape(stats.missing["n"], (1, folds)), np.zeros((1, folds))])
        sums = np.vstack([stats.sums["sum"], np.reshape(stats.missing["sum"], (1, folds)), np.zeros((1, folds))])
        return n, sums

    def _fold_means(self) -> np.ndarray:
        """ȳ of the rows outside each fold."""
        n, sums = self.target_["n"], self.target_["sum"]
        other = n.sum() - n
        return np.where(other > 0, (sums.sum() - sums) / np.maximum(other, 1), self.mean_)

    def _out_of_fold_folds(self, frame: ColumnFrame):
        if self.target_["n"].shape[0] == 1:
            raise ConfigError(
                "target_encoding: an out-of-fold transform needs per-fold statistics; "
                "set the pipeline's id_column before fitting"
            )
        if frame.id_column is None or frame.id_column not in frame.table.column_names:
            raise DataError(f"column {frame.id_column!r} is missing: out-of-fold target encoding reads the row id")
        return self._folds(frame)

    # -- persistence ---------------------------------------------------------------------------
    def params(self) -> dict:
        return {"columns": list(self.columns), "target": self.target, "smoothing": self.smoothing,
                "kfold": self.kfold, "fold_seed": self.fold_seed}

    def state(self):
        missing = {c: {k: np.ravel(s.missing[k]).tolist() for k in ("n", "sum")} for c, s in self.stats_.items()}
        scalars = {"mean": self.mean_, "target": {k: v.tolist() for k, v in self.target_.items()}, "missing": missing}
        tables = {}
        for column, stats in self.stats_.items():
            tables[column] = pa.table({
                "value": keys_to_arrow(stats.keys),
                "n": stats.sums["n"].sum(axis=1),
                "sum": stats.sums["sum"].sum(axis=1),
                "n_by_fold": _fold_column(stats.sums["n"]),
                "sum_by_fold": _fold_column(stats.sums["sum"]),
            })
        return scalars, tables

    def load_state(self, scalars, tables) -> None:
        target = {k: np.asarray(v, dtype=np.float64) for k, v in scalars["target"].items()}
        folds = len(target["n"])
        columns = {}
        for column in self.columns:
            table = tables[column]
            sums = {k: _from_fold_column(table.column(f"{k}_by_fold"), folds) for k in ("n", "sum")}
            missing = {k: np.asarray(v, dtype=np.float64) for k, v in scalars["missing"][column].items()}
            columns[column] = KeyedSums(keys_from_arrow(table.column("value")), sums, missing)
        self.finish_fit({"columns": columns, "target": target})
