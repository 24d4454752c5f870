"""What a local head node looks like: a typed spec, and the `ray start` command it becomes.

Pure data, no processes: `head.py` runs the command. Defaults are the safe ones: the dashboard and
Jobs API listen on 127.0.0.1 only.

Example:
    >>> spec = HeadSpec(num_cpus=2, resources={"trainer": 1})
    >>> ray_start_args(spec)[:3]
    ['start', '--head', '--block']
    >>> accept_workloads(spec, ["train"]).labels
    {'raylane.io/workload-train': 'true'}
    >>> worker_start_args(["serve"])
    ['--labels=raylane.io/workload-serve=true', '--resources={"raylane_workload_serve":1000}']
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field, replace
from typing import Iterable

from framework.errors import ConfigError
from framework.workload import node_labels, node_resources

__all__ = ["HeadSpec", "ray_start_args", "accept_workloads", "worker_start_args", "exposure_warning", "is_loopback"]


@dataclass(frozen=True)
class HeadSpec:
    """A local Ray head node. Ports follow Ray's defaults; `host` binds the dashboard and Jobs API."""

    host: str = "127.0.0.1"
    port: int = 6379  # GCS
    dashboard_port: int = 8265  # dashboard + Jobs API (HTTP)
    client_port: int = 10001  # Ray Client
    agent_port: int = 52365  # the node's dashboard agent (HTTP); change it when two heads share a machine
    num_cpus: int | None = None  # None: every core
    num_gpus: int | None = None
    resources: dict[str, float] = field(default_factory=dict)  # custom resources, e.g. {"trainer": 1}
    labels: dict[str, str] = field(default_factory=dict)  # Ray node labels, e.g. {"raylane.io/workload-train": "true"}
    object_store_memory: int | None = None  # bytes; None: Ray's default (30% of RAM)
    temp_dir: str | None = None  # None: Ray's default /tmp/ray
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the node's processes and drivers

    def __post_init__(self) -> None:
        for name in ("port", "dashboard_port", "client_port", "agent_port"):
            value = getattr(self, name)
            if not 0 < value < 65536:
                raise ConfigError(f"cluster: {name} must be a TCP port (1-65535), got {value}")
        for name in ("num_cpus", "num_gpus"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"cluster: {name} must be >= 0, got {value}")
        for name, amount in self.resources.items():
            if name in ("CPU", "GPU", "memory", "object_store_memory"):
                raise ConfigError(f"cluster: resources: set {name} with its own option (--num-cpus, --num-gpus...)")
            if amount < 0:
                raise ConfigError(f"cluster: resources: {name} must be >= 0, got {amount}")
        for key, value in self.labels.items():
            if not key or key.startswith("ray.io/") or any(c in f"{key}{value}" for c in ",= "):
                raise ConfigError(
                    f"cluster: labels: {key!r}={value!r}: keys and values take no ',', '=' or spaces, "
                    "and keys cannot start with ray.io/ (Ray's own)"
                )
        if any(name.startswith("RAY_AUTH") for name in self.env):
            raise ConfigError("cluster: env: token auth is always on; RAY_AUTH_* cannot be overridden")
        if self.object_store_memory is not None and self.object_store_memory < 75 * 1024 * 1024:
            raise ConfigError("cluster: object_store_memory must be at least 78643200 bytes (75 MiB), Ray's minimum")

    @property
    def dashboard_url(self) -> str:
        """The URL clients use: loopback when bound to every interface."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.dashboard_port}"


def ray_start_args(spec: HeadSpec) -> list[str]:
    """Arguments for `ray start` (without the executable). `--block` keeps one parent process whose
    SIGTERM stops exactly this node, never other Ray clusters on the machine (`ray stop` kills all)."""
    args = [
        "start", "--head", "--block",
        f"--port={spec.port}",
        f"--dashboard-host={spec.host}",
        f"--dashboard-port={spec.dashboard_port}",
        f"--ray-client-server-port={spec.client_port}",
        f"--dashboard-agent-listen-port={spec.agent_port}",
        "--disable-usage-stats",
    ]  # fmt: skip
    if spec.num_cpus is not None:
        args.append(f"--num-cpus={spec.num_cpus}")
    if spec.num_gpus is not None:
        args.append(f"--num-gpus={spec.num_gpus}")
    if spec.resources:
        args.append(f"--resources={_resources_json(spec.resources)}")
    if spec.labels:
        args.append(f"--labels={_labels_text(spec.labels)}")
    if spec.object_store_memory is not None:
        args.append(f"--object-store-memory={spec.object_store_memory}")
    if spec.temp_dir:
        args.append(f"--temp-dir={spec.temp_dir}")
    return args


def accept_workloads(spec: HeadSpec, classes: Iterable[str]) -> HeadSpec:
    """`spec` with the node labels and resources that make the head accept the workload `classes`
    (see framework.workload). Resources the spec already sets keep their amounts."""
    return replace(
        spec,
        labels={**spec.labels, **node_labels(classes)},
        resources={**node_resources(classes), **spec.resources},
    )


def worker_start_args(classes: Iterable[str]) -> list[str]:
    """The `ray start` arguments that make a joining node accept the workload `classes`."""
    return [f"--labels={_labels_text(node_labels(classes))}", f"--resources={_resources_json(node_resources(classes))}"]


def _labels_text(labels: dict[str, str]) -> str:
    """Ray 2.60's `ray start --labels` syntax: `k1=v1,k2=v2`."""
    return ",".join(f"{key}={value}" for key, value in labels.items())


def _resources_json(resources: dict[str, float]) -> str:
    # Compact (no spaces) and whole amounts as integers: easier to read and to paste into a shell.
    shown = {name: int(amount) if float(amount).is_integer() else amount for name, amount in resources.items()}
    return json.dumps(shown, sort_keys=True, separators=(",", ":"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it resolves beyond this machine


def exposure_warning(host: str) -> str | None:
    """The warning to print when the dashboard and Jobs API would be reachable beyond this machine."""
    if is_loopback(host):
        return None
    return (
        f"warning: the dashboard and Jobs API will listen on {host}, beyond this machine, over plain HTTP "
        "(Ray's dashboard has no TLS). Anyone who can reach the port and sees the token can run code here, "
        "and the token crosses the network in clear text. Prefer the default 127.0.0.1 with an SSH tunnel "
        "(ssh -L 8265:127.0.0.1:8265 HOST) or a TLS-terminating proxy on this machine."
    )
