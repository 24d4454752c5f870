"""count_encode: `<col>_count`, how often each value occurred at fit (missing is a value of its own).

Example:
    >>> import pyarrow as pa
    >>> from framework.features._columns import ColumnFrame
    >>> table = pa.table({"c": ["a", "a", None]})
    >>> op = CountEncode(["c"])
    >>> op.finish_fit(op.merge_partials([op.partial_fit(ColumnFrame(table))]))
    >>> frame = ColumnFrame(pa.table({"c": ["a", "z", None]})); op.transform(frame)
    >>> frame.outputs["c_count"].tolist()
    [2, 0, 1]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from framework.features._base import FeatureOp
from framework.features._columns import ColumnFrame
from framework.features._stats import KeyedSums, merge_per_column
from framework.features._vocabulary import KeyLookup, categorical_sums, conform_key_kind, keys_from_arrow, keys_to_arrow

__all__ = ["CountEncode"]


class CountEncode(FeatureOp):
    """`<col>_count`: how often the value occurred at fit (missing counted as a value); unseen → 0."""

    op_name = "count_encode"
    stateful = True

    def __init__(self, columns: list[str]):
        self.columns = columns

    def writes(self) -> list[str]:
        return [f"{c}_count" for c in self.columns]

    def partial_fit(self, frame: ColumnFrame) -> dict:
        inputs = frame.categoricals(self.columns)
        return dict(zip(self.columns, frame.map_columns(categorical_sums, inputs)))

    def merge_partials(self, parts: list[dict]) -> dict:
        return merge_per_column(parts)

    def finish_fit(self, merged: dict) -> None:
        self.stats_ = merged
        self._lookups = {c: KeyLookup(s.keys) for c, s in merged.items()}

    def transform(self, frame: ColumnFrame) -> None:
        self._require_fitted("stats_")
        xp = frame.xp
        for column in self.columns:
            stats = self.stats_[column]
            cat = conform_key_kind(column, stats.keys, frame.categorical(column))
            position = self._lookups[column].positions(cat)
            counts = xp.asarray(np.append(stats.sums["count"], 0))  # position -1 reads the trailing 0
            encoded = counts[position]
            frame.write(f"{column}_count", xp.where(cat.valid, encoded, int(stats.missing["count"])))

    def params(self) -> dict:
        return {"columns": list(self.columns)}

    def state(self):
        scalars = {"missing_count": {c: int(s.missing["count"]) for c, s in self.stats_.items()}}
        tables = {c: pa.table({"value": keys_to_arrow(s.keys), "count": s.sums["count"]}) for c, s in self.stats_.items()}
        return scalars, tables

    def load_state(self, scalars, tables) -> None:
        merged = {}
        for column in self.columns:
            table = tables[column]
            counts = table.column("count").to_numpy().astype(np.int64)
            missing = {"count": np.int64(scalars["missing_count"][column])}
            merged[column] = KeyedSums(keys_from_arrow(table.column("value")), {"count": counts}, missing)
        self.finish_fit(merged)
