"""Static facts about an op list: fit stages, raw input columns, and output naming.

A *stage* is a run of ops that can be fitted in one pass over the data: it ends before the first op
that reads a column written by a not-yet-fitted op of the same stage (normalize after log1p is fine —
log1p learns nothing — but bucketize-by-quantiles after normalize of the same column needs a second
pass, through the fitted normalize).

Example:
    >>> from framework.features._registry import op_from_mapping as op
    >>> ops = [op({"op": "log1p", "columns": ["x"]}), op({"op": "normalize", "columns": ["x"]}),
    ...        op({"op": "bucketize", "columns": ["x"], "quantiles": 4})]
    >>> fit_stages(ops)
    [[0, 1], [2]]
    >>> raw_inputs(ops)
    ['x']
    >>> raw_inputs([op({"op": "target_encoding", "columns": ["c"], "target": "y"})], fitting=True)
    ['c', 'y']
"""

from __future__ import annotations

from framework.errors import ConfigError
from framework.features._base import FeatureOp

__all__ = ["fit_stages", "ops_to_run_in_stage", "raw_inputs", "check_names"]


def fit_stages(ops: list[FeatureOp]) -> list[list[int]]:
    stages: list[list[int]] = [[]]
    unfitted_writes: set[str] = set()
    for index, op in enumerate(ops):
        if unfitted_writes & set(op.fit_reads()):
            stages.append([])
            unfitted_writes = set()
        stages[-1].append(index)
        if op.stateful:
            unfitted_writes |= set(op.writes())
    return stages


def ops_to_run_in_stage(ops: list[FeatureOp], stage: list[int]) -> list[int]:
    """The stage's stateful ops, plus the stateless ones whose output a later stateful op reads."""
    needed: set[str] = set()
    keep = []
    for index in reversed(stage):
        op = ops[index]
        if op.stateful or needed & set(op.writes()):
            keep.append(index)
            needed |= set(op.fit_reads())
    return keep[::-1]


def raw_inputs(ops: list[FeatureOp], fitting: bool = False) -> list[str]:
    """Columns read from the input data (read before any op writes them), in first-read order.

    `fitting` adds what only fit needs (the target of target_encoding): scoring data has no label.
    """
    written: set[str] = set()
    inputs: dict[str, None] = {}
    for op in ops:
        reads = op.fit_reads() if fitting else op.reads()
        inputs.update(dict.fromkeys(c for c in reads if c not in written))
        written |= set(op.writes())
    return list(inputs)


def check_names(ops: list[FeatureOp], passthrough: list[str], id_column: str | None) -> None:
    """Passthrough columns are copied unchanged, so no op may write one."""
    for index, op in enumerate(ops):
        clash = sorted(set(op.writes()) & set(passthrough))
        if clash:
            raise ConfigError(
                f"ops.{index} ({op.op_name}) writes {clash}, which is passthrough (copied unchanged); "
                "remove it from passthrough or from the op"
            )
    if id_column is not None and any(id_column in op.writes() for op in ops):
        raise ConfigError(f"id_column {id_column!r} is written by an op; the row id must stay as read")
