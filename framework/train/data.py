"""The training data path: Parquet → Ray Data → feature transform per batch → model arrays.

Each batch becomes {"continuous": float32[n, c], "categorical": int64[n, k], "label": float32[n]}
plus "p_true" where the data has it (for the Bayes AUC beside the model's). The transform runs in
Ray Data tasks; each task process loads the fitted pipeline artifact once (JSON + Arrow, no pickle).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from framework.data import list_parquet_files
from framework.errors import DataError

__all__ = ["model_arrays", "build_dataset", "cache_in_object_store", "transformed_bytes", "TRUTH_COLUMN"]

TRUTH_COLUMN = "p_true"  # synthetic data's planted probability: evaluation only, never a feature
DATA_TASK_CPUS = 0.5  # Ray Data tasks must fit beside the train workers on small machines
CACHE_SHARE = 0.25  # data.cache auto: transformed data may fill at most this share of the object store


@functools.lru_cache(maxsize=4)
def _pipeline(pipeline_dir: str):
    from framework.features import FeaturePipeline

    return FeaturePipeline.load(pipeline_dir)


def model_arrays(pipeline, table: pa.Table, label: str, out_of_fold: bool = False) -> dict[str, np.ndarray]:
    """Model inputs of one Arrow batch (framework.models.inputs), plus the label and `p_true`."""
    from framework.models.inputs import model_inputs

    if label not in table.column_names:
        raise DataError(f"label column {label!r} is missing from the batch; found {table.column_names[:8]}...")
    labels = table.column(label)
    if labels.null_count:
        raise DataError(f"label column {label!r} has {labels.null_count} null value(s)")
    batch = {**model_inputs(pipeline, table, out_of_fold), "label": labels.to_numpy().astype(np.float32)}
    if TRUTH_COLUMN in table.column_names:
        batch[TRUTH_COLUMN] = table.column(TRUTH_COLUMN).to_numpy().astype(np.float64)
    return batch


def _transform_batch(table: pa.Table, pipeline_dir: str, label: str, out_of_fold: bool) -> dict:
    return model_arrays(_pipeline(pipeline_dir), table, label, out_of_fold)


def build_dataset(source, pipeline_dir: str | Path, label: str, out_of_fold: bool, columns: list[str]):
    """A lazily transformed Ray Dataset of model arrays (out-of-fold target encoding for training)."""
    import ray.data

    files = list_parquet_files(source)
    schema_names = set(pq.read_schema(files.paths[0], filesystem=files.filesystem).names)
    wanted = [c for c in dict.fromkeys(columns + [label, TRUTH_COLUMN]) if c in schema_names]
    dataset = ray.data.read_parquet(files.paths, filesystem=files.filesystem, num_cpus=DATA_TASK_CPUS)
    dataset = dataset.select_columns(wanted)
    transform = functools.partial(
        _transform_batch, pipeline_dir=str(pipeline_dir), label=label, out_of_fold=out_of_fold
    )
    return dataset.map_batches(transform, batch_format="pyarrow", num_cpus=DATA_TASK_CPUS)


def transformed_bytes(rows: int, schema) -> int:
    """What `rows` rows of model arrays take: float32 continuous, int64 categorical, label and p_true."""
    return rows * (4 * len(schema.continuous) + 8 * len(schema.categorical) + 4 + 8)


def cache_in_object_store(setting, rows: int, schema, object_store_bytes: float, nodes: int = 1) -> bool:
    """The `data.cache` decision: `auto` caches what fits in CACHE_SHARE of a one-node cluster's store.

    On several nodes a cached block lives on one of them, and losing that node loses the block under a
    restarted worker group (the run then waits on it), so `auto` streams from Parquet there: a node
    failure costs only the lost epoch. `true` caches anyway.
    """
    if setting != "auto":
        return bool(setting)
    return nodes == 1 and transformed_bytes(rows, schema) <= CACHE_SHARE * object_store_bytes
