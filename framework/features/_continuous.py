"""Continuous ops: fill_missing, fill_median, clip, log1p, normalize, min_max.

Their transforms do not compute anything themselves: each appends a step to the column's program in
the batch's ColumnFrame, and all continuous columns then run in one fused `kernels.numeric_chain`
pass. Fitted statistics merge exactly (value counts) or by Chan's update (moments).

Example:
    >>> import pyarrow as pa
    >>> from framework.features._columns import ColumnFrame
    >>> frame = ColumnFrame(pa.table({"x": [None, 0.5, 3.0]}))
    >>> for op in (FillMissing(["x"], value=1.0), Clip(["x"], upper=2.0), Log1p(["x"])):
    ...     op.transform(frame)
    >>> frame.numeric("x").round(4).tolist()
    [0.6931, 0.4055, 1.0986]
"""

from __future__ import annotations

import math

import numpy as np

import kernels
from framework.features._base import FeatureOp, OutputField, CONTINUOUS
from framework.features._columns import ColumnFrame, to_host
from framework.features._stats import KeyedSums, exact_median, merge_per_column

__all__ = ["FillMissing", "FillMedian", "Clip", "Log1p", "Normalize", "MinMax", "float_value_counts"]


def float_value_counts(frame: ColumnFrame, column: str) -> KeyedSums:
    """Exact, mergeable summary of a column's non-missing values: each distinct value and its count."""
    values = to_host(frame.numeric(column))
    uniques, counts = np.unique(values[~np.isnan(values)], return_counts=True)
    return KeyedSums(uniques, {"count": counts.astype(np.int64)})


class _IndicatorMixin:
    def writes(self) -> list[str]:
        extra = [f"{c}_missing" for c in self.columns] if self.add_indicator else []
        return list(self.columns) + extra

    def output_fields(self) -> list[OutputField]:
        fields = [OutputField(c, CONTINUOUS, "float32") for c in self.columns]
        if self.add_indicator:
            fields += [OutputField(f"{c}_missing", CONTINUOUS, "int8") for c in self.columns]
        return fields

    def _fill(self, frame: ColumnFrame, column: str, value: float) -> None:
        if self.add_indicator:
            frame.write(f"{column}_missing", frame.missing_mask(column).astype(np.int8))
        frame.push_step(column, kernels.FILL, value)


class FillMissing(_IndicatorMixin, FeatureOp):
    """Missing → `value` (float32 output); optionally a `<col>_missing` int8 indicator."""

    op_name = "fill_missing"

    def __init__(self, columns: list[str], value: float = 0.0, add_indicator: bool = False):
        self.columns = columns
        self.value = value
        self.add_indicator = add_indicator

    def transform(self, frame: ColumnFrame) -> None:
        for column in self.columns:
            self._fill(frame, column, float(self.value))

    def params(self) -> dict:
        return {"columns": list(self.columns), "value": self.value, "add_indicator": self.add_indicator}


class FillMedian(_IndicatorMixin, FeatureOp):
    """Missing → the exact median of the fitted non-missing values (0.0 when there were none)."""

    op_name = "fill_median"
    stateful = True

    def __init__(self, columns: list[str], add_indicator: bool = False):
        self.columns = columns
        self.add_indicator = add_indicator

    def partial_fit(self, frame: ColumnFrame) -> dict:
        return {column: float_value_counts(frame, column) for column in self.columns}

    def merge_partials(self, parts: list[dict]) -> dict:
        return merge_per_column(parts)

    def finish_fit(self, merged: dict) -> None:
        self.medians_ = {c: exact_median(s.keys, s.sums["count"]) for c, s in merged.items()}

    def transform(self, frame: ColumnFrame) -> None:
        self._require_fitted("medians_")
        for column in self.columns:
            self._fill(frame, column, self.medians_[column])

    def params(self) -> dict:
        return {"columns": list(self.columns), "add_indicator": self.add_indicator}

    def state(self):
        return {"medians": self.medians_}, {}

    def load_state(self, scalars, tables) -> None:
        self.medians_ = {c: float(v) for c, v in scalars["medians"].items()}


class Clip(FeatureOp):
    """Clip to [lower, upper] (either may be None); missing stays missing."""

    op_name = "clip"

    def __init__(self, columns: list[str], lower: float | None = None, upper: float | None = None):
        self.columns = columns
        self.lower = lower
        self.upper = upper

    def transform(self, frame: ColumnFrame) -> None:
        lower = -math.inf if self.lower is None else float(self.lower)
        upper = math.inf if self.upper is None else float(self.upper)
        for column in self.columns:
            frame.push_step(column, kernels.CLIP, lower, upper)

    def params(self) -> dict:
        return {"columns": list(self.columns), "lower": self.lower, "upper": self.upper}


class Log1p(FeatureOp):
    """log1p(x) in float64, float32 output; x ≤ −1 → missing."""

    op_name = "log1p"

    def __init__(self, columns: list[str]):
        self.columns = columns

    def transform(self, frame: ColumnFrame) -> None:
        for column in self.columns:
            frame.push_step(column, kernels.LOG1P)

    def params(self) -> dict:
        return {"columns": list(self.columns)}


class Normalize(FeatureOp):
    """(x − mean)/std of the fitted non-missing values, std = 1 where it is 0 (StandardScaler)."""

    op_name = "normalize"
    stateful = True

    def __init__(self, columns: list[str], ddof: int = 0):
        self.columns = columns
        self.ddof = ddof

    def partial_fit(self, frame: ColumnFrame) -> dict:
        return {column: kernels.moments(frame.numeric(column)) for column in self.columns}

    def merge_partials(self, parts: list[dict]) -> dict:
        def merge(moments: list) -> tuple:
            merged = moments[0]
            for other in moments[1:]:
                merged = kernels.merge_moments(merged, other)
            return merged

        return merge_per_column(parts, merge)

    def finish_fit(self, merged: dict) -> None:
        self.count_, self.mean_, self.std_ = {}, {}, {}
        for column, (count, mean, m2) in merged.items():
            dof = count - self.ddof
            std = math.sqrt(m2 / dof) if dof > 0 else 0.0
            self.count_[column], self.mean_[column], self.std_[column] = count, mean, std

    def transform(self, frame: ColumnFrame) -> None:
        self._require_fitted("mean_")
        for column in self.columns:
            std = self.std_[column]
            frame.push_step(column, kernels.SCALE, self.mean_[column], std if std > 0 else 1.0)

    def params(self) -> dict:
        return {"columns": list(self.columns), "ddof": self.ddof}

    def state(self):
        return {"count": self.count_, "mean": self.mean_, "std": self.std_}, {}

    def load_state(self, scalars, tables) -> None:
        self.count_, self.mean_, self.std_ = (dict(scalars[k]) for k in ("count", "mean", "std"))


class MinMax(FeatureOp):
    """(x − min)/(max − min) with fitted min/max, 0.0 where max = min; no clipping."""

    op_name = "min_max"
    stateful = True

    def __init__(self, columns: list[str]):
        self.columns = columns

    def partial_fit(self, frame: ColumnFrame) -> dict:
        return {column: kernels.min_max(frame.numeric(column)) for column in self.columns}

    def merge_partials(self, parts: list[dict]) -> dict:
        def merge(bounds: list) -> tuple:
            lows = [low for low, _ in bounds if not math.isnan(low)]
            highs = [high for _, high in bounds if not math.isnan(high)]
            return (min(lows), max(highs)) if lows else (math.nan, math.nan)

        return merge_per_column(parts, merge)

    def finish_fit(self, merged: dict) -> None:
        # No non-missing value at fit: (0, 0), so any value seen later maps to 0.0.
        self.min_ = {c: 0.0 if math.isnan(low) else low for c, (low, _) in merged.items()}
        self.max_ = {c: 0.0 if math.isnan(high) else high for c, (_, high) in merged.items()}

    def transform(self, frame: ColumnFrame) -> None:
        self._require_fitted("min_")
        for column in self.columns:
            low, high = self.min_[column], self.max_[column]
            if high == low:
                frame.push_step(column, kernels.ZERO)
            else:
                frame.push_step(column, kernels.SCALE, low, high - low)

    def params(self) -> dict:
        return {"columns": list(self.columns)}

    def state(self):
        return {"min": self.min_, "max": self.max_}, {}

    def load_state(self, scalars, tables) -> None:
        self.min_, self.max_ = dict(scalars["min"]), dict(scalars["max"])
