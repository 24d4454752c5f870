"""Ray at the edge of batch scoring: the tasks go through a Ray Data actor pool.

The dataset is the list of tasks (`ray.data.from_items`), one per block; `map_batches` runs the
`TaskScorer` callable class in an `ActorPoolStrategy` pool, one task per call. Each actor loads the
bundle once and reads, scores and writes its tasks itself, returning only a small ledger entry; so
the rows never cross the object store and no read or write tasks compete with the actors for CPUs.
Ray Data restarts a dead actor and retries its task (`max_task_retries`); deterministic chunk
names make the retry overwrite, not duplicate, what the dead attempt wrote.

Actors reserve a fraction of a CPU (`pool.cpus_per_actor`, 0.5 by default): with one whole CPU each,
a 2-core machine has nothing left for the driver's own Ray Data work (RAY_NOTES.md). On GPU nodes
each actor takes `num_gpus=1`.

Example:
    >>> for entry in run_pool(tasks, job, cfg.pool):                        # doctest: +SKIP
    ...     print(entry["task"], entry["rows_in"])
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Iterator

from framework.score._plan import ScoreTask
from framework.score.config import PoolSection

__all__ = ["PoolShape", "check_pool_fits", "pool_shape", "run_pool"]


@dataclass(frozen=True)
class PoolShape:
    """How many actors, and what each one reserves."""

    min_size: int
    max_size: int
    num_cpus: float
    num_gpus: int

    @property
    def device(self) -> str:
        return "cuda" if self.num_gpus else "cpu"

    def __str__(self) -> str:
        size = self.max_size if self.min_size == self.max_size else f"{self.min_size}-{self.max_size}"
        gpus = f", {self.num_gpus} GPU" if self.num_gpus else ""
        return f"{size} actor(s) x ({self.num_cpus:g} CPU{gpus})"


def pool_shape(pool: PoolSection, resources: dict, tasks: int) -> PoolShape:
    """Decide the pool from the config and the cluster's resources (`ray.cluster_resources()`)."""
    gpus = int(resources.get("GPU", 0))
    use_gpu = pool.use_gpu is True or (pool.use_gpu == "auto" and gpus >= 1)
    if pool.actors == "auto":  # one per GPU, else one per CPU core, but never more CPUs than the cluster has
        cpus = float(resources.get("CPU", 1))
        low = high = gpus if use_gpu else max(1, min(int(cpus), int(cpus / pool.cpus_per_actor + 1e-9)))
    elif isinstance(pool.actors, tuple):
        low, high = pool.actors
    else:
        low = high = pool.actors
    high = max(1, min(high, tasks))  # an idle actor still loads the model
    return PoolShape(min(low, high), high, pool.cpus_per_actor, 1 if use_gpu else 0)


def check_pool_fits(pool: PoolSection, shape: PoolShape, cluster, log) -> None:
    """Fail fast (or wait for an autoscaler) when the pool's smallest size cannot be placed: Ray Data
    would otherwise wait for its actors forever."""
    from framework.capacity import Ask, check_fits

    keys = ("pool.actors", "pool.cpus_per_actor") + (("pool.use_gpu",) if shape.num_gpus else ())
    each = {"CPU": shape.num_cpus, **({"GPU": float(shape.num_gpus)} if shape.num_gpus else {})}
    check_fits(Ask(f"{shape.min_size} scoring actor(s)", keys, shape.min_size, each), cluster, log)


def run_pool(tasks: list[ScoreTask], job: dict, shape: PoolShape, max_task_retries: int,
             remote_args: dict | None = None) -> Iterator[dict]:
    """Yield each task's ledger entry as its actor finishes it (in completion order). `remote_args` go to
    every actor (a workload's label selector: `framework.workload.Placement.remote_args`)."""
    from framework.ray_session import ensure_ray
    from framework.score._worker import TaskScorer

    ray = ensure_ray()
    dataset = ray.data.from_items([task.as_row() for task in tasks], override_num_blocks=len(tasks))
    dataset.context.execution_options.preserve_order = False  # the ledger, not the order, says what is done
    strategy = ray.data.ActorPoolStrategy(min_size=shape.min_size, max_size=shape.max_size, max_tasks_in_flight_per_actor=1)
    with warnings.catch_warnings():
        # Ray 2.60 has no named parameter for bounded retries and flags every extra remote argument
        # as deprecated; unbounded retries (its default) would loop forever on a task that kills its actor.
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated", category=DeprecationWarning)
        scored = dataset.map_batches(
            TaskScorer,
            fn_constructor_kwargs={"job": job},
            compute=strategy,
            batch_size=1,
            batch_format="pyarrow",
            num_cpus=shape.num_cpus,
            num_gpus=shape.num_gpus,
            max_task_retries=max_task_retries,
            **(remote_args or {}),
        )
    for row in scored.iter_rows():
        yield json.loads(row["entry"])
