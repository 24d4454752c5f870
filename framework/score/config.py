"""The typed batch-scoring config (`raylane score`, `jobs/score.py`), section by section.

Example (see jobs/configs/score.yaml for every knob):
    model: runs/ctr-small/bundle
    input: "data/day/event_date=2026-01-04/*.parquet"   # or the table root plus `where:`
    where: {}                                            # e.g. {event_date: 2026-01-04}: one partition
    output: scores/ctr-small
    run_date: 2026-01-04
    id_column: id
    passthrough: [event_date]
    max_reject_fraction: 0.001
    batch: {rows: 131072, predict_rows: 4096}
    pool: {actors: auto, cpus_per_actor: 0.5, use_gpu: auto, torch_threads: 1}

Example:
    >>> cfg = ScoreConfig(model="runs/x/bundle", input="data/day", output="scores", run_date="2026-01-04")
    >>> cfg.run_date.isoformat(), cfg.batch.rows
    ('2026-01-04', 131072)
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from framework.config import PartitionFilter, StrictModel
from framework.monitor.settings import DriftSection
from framework.workload import Workload

__all__ = ["BatchSection", "PoolSection", "ScoreConfig", "ScoreRunSection"]


class BatchSection(StrictModel):
    """How many rows move together. `rows` also fixes the output chunk files, so it is part of a
    run's identity: a rerun with another value starts a fresh staging area."""

    rows: int = Field(131_072, gt=0, description="rows read, checked, transformed and written per chunk")
    predict_rows: int = Field(4_096, gt=0, description="rows per model forward pass (cache-sized on CPUs)")
    rows_per_task: int = Field(1_048_576, gt=0, description="row groups are grouped into tasks of about this many rows")

    @model_validator(mode="after")
    def _predict_fits_in_chunk(self) -> "BatchSection":
        if self.predict_rows > self.rows:
            raise ValueError(f"predict_rows ({self.predict_rows}) must not exceed rows ({self.rows})")
        return self


class PoolSection(StrictModel):
    """The scoring actor pool (Ray Data ActorPoolStrategy). Each actor loads the bundle once."""

    actors: Literal["auto"] | int | tuple[int, int] = Field(
        "auto", description="auto: one per GPU, else one per CPU core of the cluster; or n; or [min, max]"
    )
    cpus_per_actor: float = Field(0.5, gt=0, description="fractional, so the pool never holds every CPU")
    use_gpu: Literal["auto"] | bool = Field("auto", description="auto: num_gpus=1 per actor when the cluster has GPUs")
    torch_threads: int = Field(1, ge=1, description="intra-op threads per actor; the pool is the parallelism")
    max_task_retries: int = Field(3, ge=0, description="retries of a task whose actor died (then the run fails)")

    @field_validator("actors")
    @classmethod
    def _positive(cls, value):
        sizes = value if isinstance(value, tuple) else (() if value == "auto" else (value,))
        if any(size < 1 for size in sizes) or (isinstance(value, tuple) and value[0] > value[1]):
            raise ValueError(f"expected auto, a positive count or [min, max] with 1 <= min <= max; got {value!r}")
        return value


class ScoreRunSection(StrictModel):
    """How the scoring run guards itself."""

    stall_timeout_s: float | None = Field(
        600.0, gt=0, description="end the job with an error when no step, row or trial progresses this long; null: never"
    )


class ScoreConfig(StrictModel):
    """One nightly scoring run: a model bundle over one day of Parquet, committed under `output`."""

    model: str = Field(description="a model bundle directory, or a registry reference name@alias / name/version")
    input: str | list[str] = Field(description="Parquet file, directory or glob (or a list); local or s3://, gs://")
    output: str = Field(description="output root; the run is committed as OUTPUT/run_date=YYYY-MM-DD/")
    run_date: dt.date
    where: PartitionFilter = Field(
        default_factory=dict, description="partition filter on the input's hive keys, e.g. {event_date: 2026-01-04}"
    )
    id_column: str = "id"
    passthrough: list[str] = Field(default_factory=list, description="input columns copied to the output")
    max_reject_fraction: float = Field(0.001, ge=0.0, le=1.0, description="fail without publishing above this")
    batch: BatchSection = BatchSection()
    pool: PoolSection = PoolSection()
    progress_every_s: float = Field(5.0, gt=0, description="seconds between progress lines")
    drift: DriftSection = DriftSection()
    track: bool = Field(True, description="log the run to MLflow (settings, row counts, lineage tags)")
    run: ScoreRunSection = ScoreRunSection()
    workload: Workload = Field("score", description="workload class: only nodes that accept it run the scoring actors")

    @field_validator("passthrough")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"columns named more than once: {sorted({n for n in names if names.count(n) > 1})}")
        return names

    @model_validator(mode="after")
    def _reserved_names(self) -> "ScoreConfig":
        from framework.score._rows import OUTPUT_COLUMNS

        clash = sorted(set([self.id_column, *self.passthrough]) & set(OUTPUT_COLUMNS))
        if clash:
            raise ValueError(f"{clash}: these names are written by scoring itself; rename or drop them")
        if self.id_column in self.passthrough:
            raise ValueError(f"passthrough: {self.id_column!r} is the id column, which is always written")
        return self
