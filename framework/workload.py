"""Workload classes: which nodes of a shared cluster a job's work may use.

Every job has a class (`train`, `sweep`, `score`, `serve`, `nightly`; its config's `workload:`, by
default its own kind). A node accepts classes by declaring, for each class C,
- the Ray node label `raylane.io/workload-C=true`: Ray Train workers, Ray Data tasks and actors and
  Serve replicas are placed with the label selector `{raylane.io/workload-C: "true"}`, and
- the custom resource `raylane_workload_C` (amount 1000): Ray Tune trials ask for 1 unit of it,
  because Tune's placement groups take no label selector in Ray 2.60.
`raylane cluster up --workloads train,score` declares both; so do the shipped launcher and KubeRay
configs. When no live node declares any class, nothing is constrained (every job runs anywhere).
When some do, a job runs only on the nodes that accept its class, and one whose class no live node
accepts stops at once naming the class and the nodes, unless an autoscaler can add such a node.

Example:
    >>> node_labels(["train", "sweep"])
    {'raylane.io/workload-train': 'true', 'raylane.io/workload-sweep': 'true'}
    >>> Placement("score", constrained=True).remote_args()
    {'label_selector': {'raylane.io/workload-score': 'true'}}
    >>> Placement("score", constrained=False).remote_args()
    {}
    >>> parse_workloads("train,score")
    ('train', 'score')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

from framework.errors import ConfigError

__all__ = [
    "WORKLOAD_CLASSES", "Workload", "Placement", "WorkloadUnplaceable", "node_labels", "node_resources",
    "declared_classes", "parse_workloads", "resolve_placement",
]

WORKLOAD_CLASSES = ("train", "sweep", "score", "serve", "nightly")
Workload = Literal["train", "sweep", "score", "serve", "nightly"]
LABEL_PREFIX = "raylane.io/workload-"
RESOURCE_PREFIX = "raylane_workload_"
NODE_RESOURCE_AMOUNT = 1000  # per accepted class: far more than the trials one node can run


class WorkloadUnplaceable(ConfigError):
    """The cluster declares workload classes, and no live node (nor any node an autoscaler could add)
    accepts this job's class."""


def _checked(classes: Iterable[str]) -> tuple[str, ...]:
    classes = tuple(dict.fromkeys(classes))
    unknown = [c for c in classes if c not in WORKLOAD_CLASSES]
    if unknown:
        raise ConfigError(f"workload class {unknown[0]!r}: expected one of {', '.join(WORKLOAD_CLASSES)}")
    return classes


def parse_workloads(text: str) -> tuple[str, ...]:
    """`train,score` -> ('train', 'score'); `all` -> every class."""
    if text.strip() == "all":
        return WORKLOAD_CLASSES
    classes = [part.strip() for part in text.split(",") if part.strip()]
    if not classes:
        raise ConfigError(f"--workloads {text!r}: expected classes separated by commas, e.g. train,score")
    return _checked(classes)


def label_key(workload: str) -> str:
    return LABEL_PREFIX + workload


def resource_name(workload: str) -> str:
    return RESOURCE_PREFIX + workload


def node_labels(classes: Iterable[str]) -> dict[str, str]:
    """The Ray node labels that make a node accept `classes`."""
    return {label_key(c): "true" for c in _checked(classes)}


def node_resources(classes: Iterable[str]) -> dict[str, float]:
    """The custom resources that make a node accept `classes` (for Tune trials)."""
    return {resource_name(c): float(NODE_RESOURCE_AMOUNT) for c in _checked(classes)}


def declared_classes(labels: dict | None, resources: dict | None = None) -> tuple[str, ...]:
    """The classes a node accepts, from its labels (or its resources, for a node started by hand
    with only one of the two); () when it declares none."""
    labels, resources = labels or {}, resources or {}
    return tuple(c for c in WORKLOAD_CLASSES
                 if labels.get(label_key(c)) == "true" or resources.get(resource_name(c), 0) > 0)


@dataclass(frozen=True)
class Placement:
    """Where one job's work may run. `constrained` is False on a cluster that declares no classes."""

    workload: str
    constrained: bool

    def label_selector(self) -> dict[str, str] | None:
        return {label_key(self.workload): "true"} if self.constrained else None

    def remote_args(self) -> dict:
        """Extra Ray remote options for tasks and actors (Ray Data's `map_batches`, Serve replicas)."""
        return {"label_selector": self.label_selector()} if self.constrained else {}

    def tune_resources(self) -> dict[str, float]:
        """Extra resources for a Tune trial (a unit of the class's custom resource)."""
        return {resource_name(self.workload): 1.0} if self.constrained else {}

    def accepts(self, node: dict) -> bool:
        """Whether a `ray.nodes()` entry may run this job's work."""
        return not self.constrained or self.workload in declared_classes(node.get("Labels"), node.get("Resources"))


UNCONSTRAINED = {c: Placement(c, constrained=False) for c in WORKLOAD_CLASSES}


def _describe(node: dict) -> str:
    classes = declared_classes(node.get("Labels"), node.get("Resources"))
    address = node.get("NodeManagerAddress", "?")
    return f"{node.get('NodeID', '?')[:12]} ({address}): {', '.join(classes) or 'no class declared'}"


def resolve_placement(workload: str, nodes: list[dict] | None = None, ceiling: dict | None = None,
                      log=None) -> Placement:
    """The placement of a job of class `workload` on the connected cluster (or on `nodes`, entries of
    `ray.nodes()`, and an autoscaler `ceiling` of resources, for tests).

    Raises WorkloadUnplaceable when the cluster declares classes, no live node accepts this one, and no
    autoscaler could add such a node (when one could, it says so through `log` and the job waits)."""
    (workload,) = _checked([workload])
    if nodes is None:
        import ray

        from framework.capacity import autoscaler_ceiling

        nodes, ceiling = ray.nodes(), autoscaler_ceiling()
    alive = [n for n in nodes if n.get("Alive", True)]
    if not any(declared_classes(n.get("Labels"), n.get("Resources")) for n in alive):
        return UNCONSTRAINED[workload]
    placement = Placement(workload, constrained=True)
    if any(placement.accepts(n) for n in alive):
        return placement
    if (ceiling or {}).get(resource_name(workload), 0) > 0:
        if log:
            log(f"no live node accepts workload {workload!r} yet: waiting for the autoscaler to add one")
        return placement
    listed = "; ".join(_describe(n) for n in alive)
    raise WorkloadUnplaceable(
        f"workload: no live node accepts the class {workload!r}, and no autoscaler can add one. Nodes: {listed}. "
        f"Start a node that accepts it (`raylane cluster up --workloads {workload}` on a head, or `ray start ... "
        f"--labels {label_key(workload)}=true --resources '{{\"{resource_name(workload)}\": {NODE_RESOURCE_AMOUNT}}}'`), "
        "or set `workload:` in the job's config to a class the cluster accepts"
    )
