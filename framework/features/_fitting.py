"""Fitting an op list over many batches: stage by stage, per-batch statistics merged exactly.

For each stage (see `_plan.fit_stages`) every batch goes through the already-fitted earlier ops,
then each stateful op of the stage reduces it to statistics. Local sources run the batches in this
process; a Ray Dataset runs one Ray task per block and merges the results on the driver, in block
order so that the result is reproducible.

Example:
    >>> import pyarrow as pa
    >>> from framework.features._registry import op_from_mapping
    >>> from framework.features._sources import local_source
    >>> ops = [op_from_mapping({"op": "normalize", "columns": ["x"]})]
    >>> fit_ops(ops, local_source(pa.table({"x": [1.0, 3.0]})), FrameSettings())["rows"]
    2
    >>> ops[0].mean_
    {'x': 2.0}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa

from framework.errors import DataError
from framework.features._base import FeatureOp
from framework.features._columns import ColumnFrame
from framework.features._fit_progress import FitProgress
from framework.features._plan import fit_stages, ops_to_run_in_stage, raw_inputs
from framework.features._sources import LocalSource, require_columns, slice_batches

__all__ = ["FrameSettings", "columns_to_fit", "fit_ops", "fit_ops_on_ray", "run_transforms"]


@dataclass(frozen=True)
class FrameSettings:
    """How batches are read into ColumnFrames: the pipeline-level options."""

    nonfinite: str = "error"
    id_column: str | None = None
    out_of_fold: bool = False
    use_gpu: bool | None = None  # None: ask kernels.backend where the batch is processed

    def frame(self, table: pa.Table) -> ColumnFrame:
        from kernels.backend import use_gpu

        xp = np
        if use_gpu() if self.use_gpu is None else self.use_gpu:
            import cupy as xp  # noqa: F811 - the GPU path only, chosen by kernels.backend.use_gpu()
        return ColumnFrame(table, self.nonfinite, xp, self.id_column, self.out_of_fold)


def run_transforms(ops: list[FeatureOp], indices, frame: ColumnFrame) -> ColumnFrame:
    for index in indices:
        ops[index].transform(frame)
    return frame


def _stage_partials(ops, stage_start: int, to_run: list[int], settings: FrameSettings, batch: pa.Table) -> dict:
    frame = run_transforms(ops, range(stage_start), settings.frame(batch))
    partials = {}
    for index in to_run:
        if ops[index].stateful:
            partials[index] = ops[index].partial_fit(frame)
        else:
            ops[index].transform(frame)
    return partials


def columns_to_fit(ops: list[FeatureOp], id_column: str | None) -> list[str]:
    """Every column fitting reads: op inputs, targets, and the row id when an op uses folds."""
    columns = raw_inputs(ops, fitting=True)
    if id_column and id_column not in columns and any(op.reads_row_id for op in ops):
        columns.append(id_column)
    return columns


def _finish_stage(ops, merged: dict) -> None:
    for index, partial in merged.items():
        ops[index].finish_fit(partial)


def _check_rows(rows: int, description: str) -> None:
    if rows == 0:
        raise DataError(f"{description}: no rows to fit the feature pipeline on")


def fit_ops(ops: list[FeatureOp], source: LocalSource, settings: FrameSettings, progress: FitProgress | None = None) -> dict:
    """Fit `ops` in place on a local source; returns {"rows", "schema"} of the data seen."""
    columns = columns_to_fit(ops, settings.id_column)
    facts = {"rows": 0, "schema": None}
    stages = fit_stages(ops)
    progress = progress or FitProgress(len(stages))
    for number, stage in enumerate(stages):
        to_run = ops_to_run_in_stage(ops, stage)
        merged: dict = {}
        progress.start_pass(number)
        for batch in source.batches(columns):
            if number == 0:
                facts["schema"] = facts["schema"] or batch.schema
                facts["rows"] += batch.num_rows
            for index, partial in _stage_partials(ops, stage[0], to_run, settings, batch).items():
                merged[index] = partial if index not in merged else ops[index].merge_partials([merged[index], partial])
            progress.add(batch.num_rows)
        progress.finish_pass()
        _check_rows(facts["rows"], source.description)
        _finish_stage(ops, merged)
    return facts


def _block_partials(ops, stage_start, to_run, settings, columns, block: pa.Table) -> tuple:
    """One Ray task: the statistics of one block (in batches of bounded size)."""
    if not isinstance(block, pa.Table):  # a block of pandas (an upstream map_batches' choice)
        from ray.data.block import BlockAccessor

        block = BlockAccessor.for_block(block).to_arrow()
    require_columns(block.schema, columns, "ray dataset block")
    block = block.select(columns)
    parts = [_stage_partials(ops, stage_start, to_run, settings, batch) for batch in slice_batches(block)]
    merged = {i: ops[i].merge_partials([p[i] for p in parts]) for i in (parts[0] if parts else {})}
    return block.num_rows, block.schema, merged


def _block_refs(dataset, kept: list) -> Iterator:
    """The dataset's blocks as its execution streams them (the first pass fits while the rest is read),
    each kept in `kept` for the later passes."""
    for bundle in dataset.iter_internal_ref_bundles():
        for ref in bundle.block_refs:
            kept.append(ref)
            yield ref


def _collect(pending: dict, results: dict, progress: FitProgress, until_done: bool) -> None:
    """Move the finished tasks of `pending` (task ref -> block number) into `results`, counting their
    rows; with `until_done`, wait until none is left."""
    import ray

    while pending:
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=1.0 if until_done else 0)
        for ref, result in zip(ready, ray.get(ready)):
            results[pending.pop(ref)] = result
            progress.add(result[0])
        if not until_done:
            return


def fit_ops_on_ray(ops: list[FeatureOp], dataset, settings: FrameSettings, progress: FitProgress | None = None) -> dict:
    """Fit `ops` in place on a ray.data.Dataset: a Ray task per block, merged on the driver in block order."""
    import ray

    columns = columns_to_fit(ops, settings.id_column)
    # Each Ray task picks its own device: a CPU-only task may run beside a GPU driver.
    settings = dataclasses.replace(settings, use_gpu=None)
    remote = ray.remote(_block_partials)
    facts = {"rows": 0, "schema": None}
    stages, blocks = fit_stages(ops), []
    progress = progress or FitProgress(len(stages))
    for number, stage in enumerate(stages):
        to_run = ops_to_run_in_stage(ops, stage)
        ops_ref = ray.put(ops)
        progress.start_pass(number)
        pending, by_block = {}, {}
        for index, block in enumerate(_block_refs(dataset, blocks) if number == 0 else blocks):
            pending[remote.remote(ops_ref, stage[0], to_run, settings, columns, block)] = index
            _collect(pending, by_block, progress, until_done=False)
        _collect(pending, by_block, progress, until_done=True)
        progress.finish_pass()
        results = [by_block[index] for index in sorted(by_block) if by_block[index][0] > 0]
        if number == 0:
            facts["rows"] = sum(r[0] for r in results)
            facts["schema"] = results[0][1] if results else None
        _check_rows(facts["rows"], "ray dataset")
        merged = {i: ops[i].merge_partials([r[2][i] for r in results]) for i in results[0][2]}
        _finish_stage(ops, merged)
    return facts
