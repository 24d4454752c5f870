"""A training run fitted to its cluster before it starts, so that it can never wait forever.

Ray Train's default worker takes 1 CPU; 2 such workers on a 2-CPU cluster leave none for the Ray
Data tasks that feed them (splitting a cached dataset across the workers takes a whole CPU), and the
run hangs. So:
- `scaling.resources_per_worker` unset (raylane picks): each worker gets what the cluster fits, at
  most 1 CPU, leaving DATA_ROOM_CPUS (1) for the data tasks, and one line says so;
- pinned, and it cannot run: ClusterTooSmall at once, naming the keys, what they ask and what the
  cluster has (an autoscaling cluster that can grow waits instead, saying what is pending);
- elastic `num_workers: [min, max]`: `max` is lowered to what leaves the data tasks room.

Example:
    >>> cfg = fit_to_cluster(cfg, Cluster.from_ray(), log=print)                  # doctest: +SKIP
    [train] scaling.resources_per_worker not set: each of 2 worker(s) takes 0.5 CPU, leaving 1 CPU ...
"""

from __future__ import annotations

from typing import Callable

from framework.capacity import SHARE_STEP, Ask, Cluster, ClusterTooSmall, check_fits, fitted_share, shortfalls
from framework.train.config import TrainConfig
from framework.train.data import DATA_ROOM_CPUS
from framework.train.scaling import scaling_config_kwargs

__all__ = ["fit_to_cluster"]

_PINNED_KEYS = ("scaling.num_workers", "scaling.resources_per_worker")
_DATA = "Ray Data tasks"


def _worker_range(num_workers) -> tuple[int, int]:
    low, high = num_workers if isinstance(num_workers, tuple) else (num_workers, num_workers)
    return max(low, 1), max(high, 1)


def _with_scaling(cfg: TrainConfig, **changes) -> TrainConfig:
    return cfg.model_copy(update={"scaling": cfg.scaling.model_copy(update=changes)})


def _largest_elastic(ask: Ask, high: int, cluster: Cluster) -> int:
    """The most workers (≤ high) that still leave the data tasks room."""
    count = ask.count
    while count < high and not shortfalls(_resized(ask, count + 1), cluster.total, cluster.largest_node):
        count += 1
    return count


def _resized(ask: Ask, count: int) -> Ask:
    return Ask(f"{count} training worker(s)", ask.keys, count, ask.each, ask.beside, ask.beside_what)


def _fit_pinned(cfg: TrainConfig, each: dict, low: int, high: int, cluster: Cluster, log) -> TrainConfig:
    ask = Ask(f"{low} training worker(s)", _PINNED_KEYS, low, each, {"CPU": DATA_ROOM_CPUS}, _DATA)
    check_fits(ask, cluster, log)
    if high > low and not cluster.can_grow():
        fits = _largest_elastic(ask, high, cluster)
        if fits < high:
            log(f"scaling.num_workers: [{low}, {high}] runs at most {fits} worker(s) here: more would leave "
                f"{_DATA} no room on this cluster")
            return _with_scaling(cfg, num_workers=(low, fits))
    return cfg


def _fit_default(cfg: TrainConfig, use_gpu: bool, low: int, high: int, cluster: Cluster, log) -> TrainConfig:
    gpu = {"GPU": 1.0} if use_gpu else {}
    if use_gpu:
        check_fits(Ask(f"{low} GPU worker(s)", ("scaling.num_workers", "scaling.use_gpu"), low, gpu), cluster, log)
    cpus = fitted_share("CPU", high, cluster, beside=DATA_ROOM_CPUS)
    if cpus >= 1.0:
        return cfg  # Ray Train's own default (1 CPU per worker) fits
    if cpus < SHARE_STEP:
        if cluster.can_grow():
            log(f"waiting for the autoscaler: {high} training worker(s) need CPUs beside {_DATA}")
            return cfg
        raise ClusterTooSmall(
            f"scaling.num_workers: {high} training worker(s) and {DATA_ROOM_CPUS:g} CPU for {_DATA} do not fit the "
            f"cluster's {cluster.total.get('CPU', 0):g} CPU even at {SHARE_STEP:g} CPU per worker; lower scaling.num_workers"
        )
    log(f"scaling.resources_per_worker not set: each of {high} worker(s) takes {cpus:g} CPU, leaving "
        f"{DATA_ROOM_CPUS:g} CPU for {_DATA} on this {cluster.total.get('CPU', 0):g}-CPU cluster")
    return _with_scaling(cfg, resources_per_worker={"CPU": cpus, **gpu})


def fit_to_cluster(cfg: TrainConfig, cluster: Cluster, log: Callable[[str], None] = print) -> TrainConfig:
    """The config this cluster can run (the same object when nothing changes); raises ClusterTooSmall."""
    scaling = scaling_config_kwargs(cfg.scaling, cluster.total.get("GPU", 0))
    if scaling["num_workers"] == 0:
        return cfg  # in-process: no workers to place
    low, high = _worker_range(scaling["num_workers"])
    if cfg.scaling.resources_per_worker:
        each = dict(cfg.scaling.resources_per_worker)
        if scaling["use_gpu"]:
            each.setdefault("GPU", 1.0)
        return _fit_pinned(cfg, each, low, high, cluster, log)
    return _fit_default(cfg, scaling["use_gpu"], low, high, cluster, log)
