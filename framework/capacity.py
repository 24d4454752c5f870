"""What a job asks of the cluster, checked before it starts: it fits, raylane fits it, it waits for an
autoscaler, or it stops at once naming the config keys.

A Ray job whose workers or actors cannot all be placed does not fail: it waits, silently, forever
(2 train workers x 1 CPU on a 2-CPU machine leave Ray Data no CPU at all). So every job states its
`Ask` (units x resources each, plus what its data tasks need beside them) and checks it here first.

Example:
    >>> cluster = Cluster(total={"CPU": 2.0}, largest_node={"CPU": 2.0})
    >>> ask = Ask("2 training workers", ("scaling.num_workers", "scaling.resources_per_worker"),
    ...           count=2, each={"CPU": 1.0}, beside={"CPU": 0.5}, beside_what="Ray Data tasks")
    >>> check_fits(ask, cluster)
    Traceback (most recent call last):
    ...
    framework.capacity.ClusterTooSmall: scaling.num_workers, scaling.resources_per_worker: 2 training workers x {CPU: 1} ...
    >>> fitted_share("CPU", workers=2, cluster=cluster, beside=0.5)
    0.75
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from framework.errors import ConfigError

__all__ = ["Ask", "Cluster", "ClusterTooSmall", "autoscaler_ceiling", "check_fits", "fitted_share", "pending_summary", "shortfalls"]

_EPSILON = 1e-9
SHARE_STEP = 0.25  # fitted CPU shares are rounded down to quarters: easy to read, and leave slack


class ClusterTooSmall(ConfigError):
    """A job pinned more than the cluster has (and no autoscaler can add it)."""


def _text(resources: dict) -> str:
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in sorted(resources.items())) + "}"


@dataclass(frozen=True)
class Cluster:
    """The cluster's resources now; `ceiling` is what an autoscaler may grow it to (None: fixed size)."""

    total: dict
    largest_node: dict
    ceiling: dict | None = None

    @classmethod
    def from_ray(cls, placement=None) -> "Cluster":
        """The connected cluster (alive nodes), and its autoscaler's ceiling when it has one. With a
        `framework.workload.Placement`, only the nodes that accept its class count."""
        import ray

        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive") and (placement is None or placement.accepts(node))]
        largest = {key: max(node.get(key, 0.0) for node in nodes) for node in nodes for key in node}
        total = {key: sum(node.get(key, 0.0) for node in nodes) for node in nodes for key in node}
        return cls(total, largest, autoscaler_ceiling())

    def can_grow(self) -> bool:
        return self.ceiling is not None


def autoscaler_ceiling() -> dict | None:
    """The most an autoscaling cluster's node groups add up to; None without an autoscaler config."""
    import ray._private.state

    try:
        ceiling = ray._private.state.state.get_max_resources_from_cluster_config()
    except Exception:  # noqa: BLE001 - an old or unusual GCS: treat the cluster as fixed
        return None
    return {k: float(v) for k, v in ceiling.items()} if ceiling else None


@dataclass(frozen=True)
class Ask:
    """`count` units (workers, actors, replicas) of `each` resources, plus `beside` for the job's other
    parts (Ray Data tasks); `keys` are the config keys that set it, named in every error."""

    what: str
    keys: tuple
    count: int
    each: dict
    beside: dict = field(default_factory=dict)
    beside_what: str = ""

    def total(self) -> dict:
        keys = set(self.each) | set(self.beside)
        return {k: self.count * self.each.get(k, 0.0) + self.beside.get(k, 0.0) for k in keys}

    def describe(self) -> str:
        text = f"{self.what} x {_text(self.each)}"
        return text + (f" plus {_text(self.beside)} for {self.beside_what}" if self.beside else "")


def shortfalls(ask: Ask, resources: dict, largest_node: dict | None) -> list[str]:
    """Why `ask` cannot be placed on `resources` (one line per resource); empty when it can."""
    problems = []
    for key, needed in sorted(ask.total().items()):
        have = float(resources.get(key, 0.0))
        if needed > have + _EPSILON:
            problems.append(f"{key}: asks {needed:g} in all, the cluster has {have:g}")
    for key, needed in sorted(ask.each.items()):
        largest = float((largest_node or {}).get(key, 0.0))
        if largest_node is not None and needed > largest + _EPSILON and key in resources:
            problems.append(f"{key}: one unit asks {needed:g}, the largest node has {largest:g}")
    return problems


def check_fits(ask: Ask, cluster: Cluster, log: Callable[[str], None] | None = None) -> None:
    """Return when `ask` fits; on an autoscaling cluster whose ceiling fits it, say what is pending and
    return (the job then waits, with the stall watchdog on); else raise ClusterTooSmall."""
    problems = shortfalls(ask, cluster.total, cluster.largest_node)
    if not problems:
        return
    if cluster.can_grow() and not shortfalls(ask, cluster.ceiling, None):
        if log:
            log(f"waiting for the autoscaler: {ask.describe()} pending ({'; '.join(problems)})")
        return
    raise ClusterTooSmall(
        f"{', '.join(ask.keys)}: {ask.describe()} cannot run on this cluster ({'; '.join(problems)}, "
        f"cluster total {_text(_plain(cluster.total))}). Lower {' or '.join(ask.keys)}, or add nodes"
    )


def _plain(resources: dict) -> dict:
    """The resources a person asks for (CPU, GPU, memory, custom), without Ray's per-node markers."""
    return {k: v for k, v in resources.items() if not k.startswith("node:") and k != "object_store_memory"
            and not k.startswith("accelerator_type:")}


def fitted_share(key: str, workers: int, cluster: Cluster, beside: float = 0.0, default: float = 1.0) -> float:
    """What each of `workers` units may take of `key` (at most `default`, at most one node's worth),
    leaving `beside` free; rounded down to SHARE_STEP. 0 when not even a step fits."""
    room = (float(cluster.total.get(key, 0.0)) - beside) / max(workers, 1)
    room = min(room, float(cluster.largest_node.get(key, 0.0)), default)
    return max(0.0, math.floor(room / SHARE_STEP + _EPSILON) * SHARE_STEP)


def pending_summary() -> str:
    """What Ray reports as waiting for resources right now: pending tasks/actors and placement groups,
    with what is still available. A short line for error messages; never raises."""
    try:
        import ray
        from ray.autoscaler.v2.sdk import get_cluster_status

        demands = get_cluster_status(ray.get_runtime_context().gcs_address).resource_demands
        parts = [f"{d.count} x {_text(d.bundle)} (tasks/actors)" for r in demands.ray_task_actor_demand for d in r.bundles_by_count]
        parts += [f"placement group of {', '.join(f'{d.count} x {_text(d.bundle)}' for d in g.bundles_by_count)} ({g.state})"
                  for g in demands.placement_group_demand]
        available = _text({k: round(v, 3) for k, v in _plain(ray.available_resources()).items() if k in ("CPU", "GPU")})
        return f"pending: {'; '.join(parts) if parts else 'nothing'}; available {available}"
    except Exception as error:  # noqa: BLE001 - this only decorates an error message
        return f"pending: unknown ({type(error).__name__})"
