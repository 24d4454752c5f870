"""Row-level decisions of batch scoring: which rows are bad (and why), and what an output row holds.

A bad row is one the model must not score: a null where the contract says `nullable: false`, or a
non-finite model input (±inf anywhere, NaN in a non-nullable column; NaN in a nullable float
column is a missing value, as in FEATURES.md). Bad rows are set aside with a `reason`; every other
row is scored, so rows out = scored + rejected = rows in.

Example:
    >>> import pyarrow as pa
    >>> checks = RowChecks(non_nullable=("id",), model_inputs=("I1",))
    >>> table = pa.table({"id": [1, 2, 3], "I1": [0.5, float("inf"), None]})
    >>> reject_reasons(table, checks).to_pylist()
    [None, 'non-finite value in model input I1', None]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["OUTPUT_COLUMNS", "REASON_COLUMN", "RowChecks", "reject_reasons", "split_rows", "scored_table"]

SCORE_COLUMN = "score"
VERSION_COLUMN = "model_version"
REASON_COLUMN = "reason"
OUTPUT_COLUMNS = (SCORE_COLUMN, VERSION_COLUMN, REASON_COLUMN)


@dataclass(frozen=True)
class RowChecks:
    """What makes a row bad: the columns the contract declares non-nullable, and the model inputs."""

    non_nullable: tuple[str, ...]
    model_inputs: tuple[str, ...]


def _masks(table: pa.Table, checks: RowChecks):
    """(mask, reason) pairs, in the order a row's reason is chosen; only checks that can fire."""
    for name in checks.non_nullable:
        column = table.column(name)
        if column.null_count:
            yield pc.is_null(column), f"null in non-nullable column {name}"
        if pa.types.is_floating(column.type):
            yield pc.is_nan(column), f"NaN in non-nullable column {name}"
    for name in checks.model_inputs:
        column = table.column(name)
        if pa.types.is_floating(column.type):
            yield pc.is_inf(column), f"non-finite value in model input {name}"


def reject_reasons(table: pa.Table, checks: RowChecks) -> pa.Array | None:
    """A string per row (null for a good row), or None when every row is good (the common case)."""
    reasons = None
    for mask, reason in _masks(table, checks):
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            continue
        if reasons is None:
            reasons = pa.nulls(table.num_rows, pa.string())
        # The first check that fires names the row's reason.
        reasons = pc.if_else(pc.and_(mask, pc.is_null(reasons)), pa.scalar(reason), reasons)
    if isinstance(reasons, pa.ChunkedArray):
        reasons = reasons.combine_chunks()
    return reasons


def split_rows(table: pa.Table, checks: RowChecks) -> tuple[pa.Table, pa.Table | None]:
    """(good rows, bad rows with a `reason` column, or None); row order kept within each."""
    reasons = reject_reasons(table, checks)
    if reasons is None:
        return table, None
    bad = pc.is_valid(reasons)
    rejected = table.filter(bad).append_column(REASON_COLUMN, reasons.filter(bad))
    return table.filter(pc.invert(bad)), rejected


def scored_table(table: pa.Table, scores: np.ndarray, keep: list[str], model_version: str) -> pa.Table:
    """The output rows: the kept columns as read, then `score` (float64) and `model_version`."""
    columns = {name: table.column(name) for name in keep}
    columns[SCORE_COLUMN] = pa.array(np.asarray(scores, dtype=np.float64))
    columns[VERSION_COLUMN] = pa.repeat(pa.scalar(model_version), table.num_rows)
    return pa.table(columns)
