"""The interface every feature op implements.

An op is an estimator: its parameters are explicit keywords, `__init__` does no work, and what `fit`
learns lives in attributes with a trailing underscore. Fitting is split so that it can run per
partition: `partial_fit` reduces one batch to statistics, `merge_partials` combines statistics from
any number of batches exactly, and `finish_fit` turns the merged statistics into the fitted state.
`transform` is a call into `kernels` through the batch's `ColumnFrame`.

Example (what the pipeline does for one op over two batches):
    >>> op = Normalize(columns=["x"])                                  # doctest: +SKIP
    >>> parts = [op.partial_fit(ColumnFrame(b)) for b in batches]      # doctest: +SKIP
    >>> op.finish_fit(op.merge_partials(parts))                        # doctest: +SKIP
    >>> op.transform(ColumnFrame(batch)); op.mean_                     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from framework.errors import RaylaneError
from framework.features._columns import ColumnFrame

__all__ = ["FeatureOp", "OutputField", "CONTINUOUS", "CATEGORICAL"]

CONTINUOUS = "continuous"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class OutputField:
    """One model input column: continuous (float-like) or categorical (int64 index < cardinality)."""

    name: str
    kind: str  # CONTINUOUS or CATEGORICAL
    dtype: str  # the Arrow type name of the output: float32, int64, int8
    cardinality: int | None = None


class FeatureOp:
    """Base class. Stateless ops (`stateful = False`) only implement `transform` and the naming."""

    op_name: ClassVar[str] = ""
    stateful: ClassVar[bool] = False
    reads_row_id: ClassVar[bool] = False  # whether fit needs the pipeline's id column

    # -- naming --------------------------------------------------------------------------------
    def reads(self) -> list[str]:
        """Columns this op reads, as they stand after the earlier ops."""
        return list(self.columns)

    def fit_reads(self) -> list[str]:
        """Columns `partial_fit` reads: `reads()` plus anything only fitting needs (a target)."""
        return self.reads()

    def writes(self) -> list[str]:
        """Columns this op writes (in place, or new)."""
        return list(self.columns)

    def output_fields(self) -> list[OutputField]:
        """What each written column is, for sizing model inputs (needs the fitted state)."""
        return [OutputField(name, CONTINUOUS, "float32") for name in self.writes()]

    # -- fitting -------------------------------------------------------------------------------
    def partial_fit(self, frame: ColumnFrame):
        """Statistics of one batch (host memory)."""
        return None

    def merge_partials(self, parts: list):
        """Combine batch statistics; the result must not depend on how rows were split."""
        return None

    def finish_fit(self, merged) -> None:
        """Set the fitted attributes from the merged statistics."""

    def transform(self, frame: ColumnFrame) -> None:
        raise NotImplementedError

    # -- persistence ---------------------------------------------------------------------------
    def params(self) -> dict:
        """The op's YAML mapping, without the `op` key."""
        raise NotImplementedError

    def state(self) -> tuple[dict, dict[str, pa.Table]]:
        """Fitted state as (JSON-safe scalars, Arrow tables)."""
        return {}, {}

    def load_state(self, scalars: dict, tables: dict[str, pa.Table]) -> None:
        """Restore what `state` returned."""

    def _require_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise RaylaneError(f"{self.op_name}: call fit before transform (no fitted {attribute})")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
