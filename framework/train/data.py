"""The training data path: Parquet → Ray Data → feature transform per batch → model arrays.

Each batch becomes {"continuous": float32[n, c], "categorical": int64[n, k], "label": float32[n]}
plus "p_true" where the data has it (for the Bayes AUC beside the model's). Where the transform runs
is `data.transform` (`transform_in_workers`):
- tasks: in Ray Data tasks (`build_dataset`), with the CPU kernels, since Ray hides the GPUs from
  tasks that hold none; each task process loads the fitted pipeline artifact once (JSON + Arrow,
  no pickle);
- workers: Ray Data only reads the Parquet columns, and each training worker transforms its blocks
  on its own device (`model_tensors`): the GPU kernels on GPU workers, no host round trip.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pyarrow as pa

from framework.data.parquet_io import available_columns, list_parquet_files, read_dataset, read_file
from framework.errors import DataError

__all__ = [
    "model_arrays", "model_tensors", "build_dataset", "transform_in_workers", "cache_in_object_store",
    "transformed_bytes", "raw_row_bytes", "TRUTH_COLUMN",
]

TRUTH_COLUMN = "p_true"  # synthetic data's planted probability: evaluation only, never a feature
DATA_TASK_CPUS = 0.5  # Ray Data tasks must fit beside the train workers on small machines
# What a run's workers must leave free: Ray Data's split of a cached dataset across the workers runs
# tasks of Ray's default 1 CPU, which raylane cannot lower; with less free, the run waits forever.
DATA_ROOM_CPUS = 1.0
CACHE_SHARE = 0.25  # data.cache auto: transformed data may fill at most this share of the object store


@functools.lru_cache(maxsize=4)
def _pipeline(pipeline_dir: str):
    from framework.features import FeaturePipeline

    return FeaturePipeline.load(pipeline_dir)


def transform_in_workers(setting: str, workers_use_gpu: bool) -> bool:
    """The `data.transform` decision: `auto` transforms in the workers when they have GPUs."""
    if setting == "auto":
        return workers_use_gpu
    return setting == "workers"


def _targets(table: pa.Table, label: str) -> dict[str, np.ndarray]:
    """The label (float32) and, where the data has it, `p_true` (float64) of one Arrow batch."""
    if label not in table.column_names:
        raise DataError(f"label column {label!r} is missing from the batch; found {table.column_names[:8]}...")
    labels = table.column(label)
    if labels.null_count:
        raise DataError(f"label column {label!r} has {labels.null_count} null value(s)")
    targets = {"label": labels.to_numpy().astype(np.float32)}
    if TRUTH_COLUMN in table.column_names:
        targets[TRUTH_COLUMN] = table.column(TRUTH_COLUMN).to_numpy().astype(np.float64)
    return targets


def model_arrays(pipeline, table: pa.Table, label: str, out_of_fold: bool = False) -> dict[str, np.ndarray]:
    """Model inputs of one Arrow batch (framework.models.inputs), plus the label and `p_true`."""
    from framework.models.inputs import model_inputs

    targets = _targets(table, label)
    return {**model_inputs(pipeline, table, out_of_fold), **targets}


def model_tensors(pipeline, table: pa.Table, label: str, out_of_fold: bool, device) -> dict:
    """`model_arrays` as torch tensors on `device`, transformed there: on a CUDA device the GPU
    kernels write the inputs and they never leave the device. The values equal `model_arrays`'."""
    import torch

    targets = _targets(table, label)
    inputs = pipeline.transform_to_tensors(table, out_of_fold=out_of_fold, passthrough=False)
    continuous = torch.nan_to_num(inputs["continuous"].float(), nan=0.0, posinf=0.0, neginf=0.0)  # as finite_inputs
    block = {"continuous": continuous.to(device), "categorical": inputs["categorical"].long().to(device)}
    return {**block, **{name: torch.from_numpy(values).to(device) for name, values in targets.items()}}


def _transform_batch(table: pa.Table, pipeline_dir: str, label: str, out_of_fold: bool) -> dict:
    return model_arrays(_pipeline(pipeline_dir), table, label, out_of_fold)


def build_dataset(source, pipeline_dir: str | Path, label: str, out_of_fold: bool, columns: list[str],
                  in_workers: bool = False, partition_types=None, remote_args: dict | None = None):
    """A lazily transformed Ray Dataset of model arrays (out-of-fold target encoding for training);
    with `in_workers`, the raw columns only, for the workers to transform (`model_tensors`).
    `partition_types` (the contract's `arrow_schema()`) types hive partition columns; `remote_args`
    go to every Ray Data task (the run's workload placement)."""
    files = list_parquet_files(source, partition_types=partition_types)
    available = set(available_columns(files))
    wanted = [c for c in dict.fromkeys(columns + [label, TRUTH_COLUMN]) if c in available]
    dataset = read_dataset(files, wanted, num_cpus=DATA_TASK_CPUS, remote_args=remote_args)
    # Rows in file order whoever started Ray: the same config and seed give the same shards and batches.
    dataset.context.execution_options.preserve_order = True
    if in_workers:
        return dataset
    transform = functools.partial(
        _transform_batch, pipeline_dir=str(pipeline_dir), label=label, out_of_fold=out_of_fold
    )
    return dataset.map_batches(transform, batch_format="pyarrow", num_cpus=DATA_TASK_CPUS, **(remote_args or {}))


def transformed_bytes(rows: int, schema) -> int:
    """What `rows` rows of model arrays take: float32 continuous, int64 categorical, label and p_true."""
    return rows * (4 * len(schema.continuous) + 8 * len(schema.categorical) + 4 + 8)


def raw_row_bytes(source, columns: list[str]) -> float:
    """Bytes per row of `columns` in Arrow memory, measured on the first row group of the first file."""
    files = list_parquet_files(source)
    available = set(available_columns(files))
    sample = read_file(files, files.paths[0], [c for c in columns if c in available], row_groups=[0])
    return sample.nbytes / max(sample.num_rows, 1)


def cache_in_object_store(setting, rows: int, schema, object_store_bytes: float, nodes: int = 1,
                          row_bytes: float | None = None) -> bool:
    """The `data.cache` decision: `auto` caches what fits in CACHE_SHARE of a one-node cluster's store.

    On several nodes a cached block lives on one of them, and losing that node loses the block under a
    restarted worker group (the run then waits on it), so `auto` streams from Parquet there: a node
    failure costs only the lost epoch. `true` caches anyway.
    """
    if setting != "auto":
        return bool(setting)
    needed = rows * row_bytes if row_bytes is not None else transformed_bytes(rows, schema)
    return nodes == 1 and needed <= CACHE_SHARE * object_store_bytes
