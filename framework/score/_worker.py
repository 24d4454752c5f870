"""The scoring actor's work: one task (row groups of one input file) read, checked, transformed,
scored and written in one process, without passing rows through Ray's object store.

A plain class, so it runs and is tested without Ray; `framework.score._pool` hands it to Ray Data
as the callable class of an actor pool, and each actor builds it (and loads the bundle) once.

Fusing read → check → transform → forward → write in one actor is what makes it fast on small
machines: no extra copy of the input into the object store, no separate read and write tasks
competing with the actors for cores, one torch thread per actor (the pool is the parallelism), and
the forward pass in cache-sized slices.

Example:
    >>> worker = TaskScorer(job)                                           # doctest: +SKIP
    >>> entry = worker.run(task)                                            # doctest: +SKIP
    >>> entry["rows_in"] == entry["rows_scored"] + entry["rows_rejected"]   # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from framework.data.contract import parse_arrow_type
from framework.data.parquet_io import ParquetFiles, with_partitions
from framework.errors import DataError, RaylaneError
from framework.score._plan import ScoreTask
from framework.score._rows import RowChecks, scored_table, split_rows
from framework.score._staging import REJECTED_DIR, StagingArea, write_durably

__all__ = ["ScoringJob", "TaskScorer", "ChunkFile"]


@dataclass(frozen=True)
class ScoringJob:
    """Everything an actor needs, in plain values (it travels to the actors as a dict)."""

    model: str
    staging_root: str
    read_columns: list
    keep_columns: list
    partition_types: dict  # hive column → contract type name, e.g. {"event_date": "date32"}
    non_nullable: list
    batch_rows: int
    predict_rows: int
    torch_threads: int
    device: str  # "cpu" or "cuda"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ChunkFile:
    path: str  # relative to the run directory
    rows: int
    bytes: int
    sha256: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _open(uri: str, path: str) -> pq.ParquetFile:
    filesystem = pafs.LocalFileSystem() if "://" not in uri else pafs.FileSystem.from_uri(uri)[0]
    return pq.ParquetFile(filesystem.open_input_file(path))


class TaskScorer:
    """Loads the bundle once; `run(task)` scores one task and records it in the staging ledger."""

    def __init__(self, job: dict):
        import torch

        from framework.score.scorer import BundleScorer

        self.job = ScoringJob(**job)
        # The pool is the parallelism: threads inside each actor would only contend for the same cores.
        torch.set_num_threads(self.job.torch_threads)
        pa.set_cpu_count(self.job.torch_threads)
        os.environ["RAYLANE_CPU_THREADS"] = str(self.job.torch_threads)  # the feature kernels' thread pool
        self.scorer = BundleScorer(self.job.model)
        if self.job.device == "cuda":
            self.scorer.bundle.model.to("cuda")
        self.staging = StagingArea.at(Path(self.job.staging_root))
        self.checks = RowChecks(tuple(self.job.non_nullable), tuple(self.scorer.input_columns))
        # Hive columns come from each file's path, typed as the contract says (a null is a bad row).
        types = {name: parse_arrow_type(type_name) for name, type_name in self.job.partition_types.items()}
        self.partitions = ParquetFiles(pafs.LocalFileSystem(), [], "", {}, types)
        self.columns = [*self.job.read_columns, *self.job.partition_types]

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Ray Data's entry point: a batch of task rows in, their ledger entries (JSON) out."""
        entries = [json.dumps(self.run(ScoreTask.from_row(row)), sort_keys=True) for row in batch.to_pylist()]
        return pa.table({"entry": pa.array(entries, pa.string())})

    def run(self, task: ScoreTask) -> dict:
        """Score one task. Bad input becomes an entry with an `error` (reported by the driver)."""
        try:
            entry = self._score(task)
        except RaylaneError as error:
            return {"task": task.name, "error": f"{task.uri}: {error}"}
        self.staging.record(entry)
        return entry

    def _chunks(self, task: ScoreTask):
        """The task's rows, `batch_rows` at a time; unreadable data becomes a DataError naming the rows."""
        groups = list(range(task.first_row_group, task.end_row_group))
        try:
            parquet = _open(task.uri, task.path)
            batches = parquet.iter_batches(self.job.batch_rows, row_groups=groups, columns=self.job.read_columns,
                                           use_threads=False)
            for batch in batches:
                yield with_partitions(pa.Table.from_batches([batch]), self.partitions, task.path, self.columns)
        except (pa.ArrowException, OSError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DataError(f"cannot read row groups {groups[0]}-{groups[-1]} (corrupt or unreadable: {reason})") from None

    def _score(self, task: ScoreTask) -> dict:
        files, rejected_files, reasons, rows_in = [], [], Counter(), 0
        for index, table in enumerate(self._chunks(task)):
            rows_in += table.num_rows
            good, bad = split_rows(table, self.checks)
            name = f"part-{task.name}-c{index:04d}.parquet"
            if good.num_rows:
                scores = self.scorer.score(good, forward_rows=self.job.predict_rows)
                version = self.scorer.identity.version
                files.append(self._write(name, scored_table(good, scores, self.job.keep_columns, version)))
            if bad is not None:
                reasons.update(bad.column("reason").to_pylist())
                rejected_files.append(self._write(f"{REJECTED_DIR}/{name}", bad))
        if rows_in != task.rows:
            raise DataError(f"read {rows_in} rows, but the footer promised {task.rows}")
        rows_rejected = sum(reasons.values())
        return {
            "task": task.name,
            "input": task.uri,
            "row_groups": [task.first_row_group, task.end_row_group],
            "rows_in": rows_in,
            "rows_scored": rows_in - rows_rejected,
            "rows_rejected": rows_rejected,
            "reasons": dict(sorted(reasons.items())),
            "files": [f.as_dict() for f in files],
            "rejected_files": [f.as_dict() for f in rejected_files],
        }

    def _write(self, relative: str, table: pa.Table) -> ChunkFile:
        data = _parquet_bytes(table)
        write_durably(self.staging.run / relative, data)
        return ChunkFile(relative, table.num_rows, len(data), hashlib.sha256(data).hexdigest())
