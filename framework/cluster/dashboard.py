"""Plain HTTP calls to a head's dashboard: readiness, nodes, resources, actors. The token goes in a header.

Ray's own state SDK reads the token from process-wide settings (`RAY_AUTH_MODE`); these helpers take it
as an argument instead, so one process can talk to several clusters (and tests can send a wrong one).

Example:
    >>> nodes = list_nodes("http://127.0.0.1:8265", token)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from framework.cluster._errors import ClusterError
from framework.cluster.token import auth_headers
from framework.workload import declared_classes

__all__ = ["NodeSummary", "get_json", "http_status", "list_nodes", "cluster_usage", "list_actors", "list_alive_actors"]


@dataclass(frozen=True)
class NodeSummary:
    node_id: str
    ip: str
    is_head: bool
    state: str
    resources: dict[str, float]
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def workload_classes(self) -> tuple[str, ...]:
        """The workload classes this node accepts; () when it declares none (see framework.workload)."""
        return declared_classes(self.labels, self.resources)


def http_status(url: str, token: str | None, timeout: float = 5.0) -> int:
    """The HTTP status of a GET, or 0 when nothing answers."""
    request = urllib.request.Request(url, headers=auth_headers(token))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def get_json(url: str, token: str | None, timeout: float = 10.0) -> dict:
    request = urllib.request.Request(url, headers=auth_headers(token))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            raise ClusterError(
                f"{url}: {error.code} — the cluster rejected the auth token; check RAY_AUTH_TOKEN / "
                "RAY_AUTH_TOKEN_PATH or RAYLANE_HOME/ray/auth_token"
            ) from None
        raise ClusterError(f"{url}: HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ClusterError(f"{url}: no Ray dashboard answers ({error}); is the head running?") from None


def _state_api(address: str, resource: str, token: str | None, filters: list[str] = ()) -> list[dict]:
    query = "&".join(["detail=1", "limit=1000", *filters])
    body = get_json(f"{address}/api/v0/{resource}?{query}", token)
    return body["data"]["result"]["result"]


def list_nodes(address: str, token: str | None) -> list[NodeSummary]:
    """Every node the head knows, alive or dead, with its total resources and its labels."""
    return [
        NodeSummary(
            node_id=row["node_id"],
            ip=row["node_ip"],
            is_head=bool(row["is_head_node"]),
            state=row["state"],
            resources={k: v for k, v in row["resources_total"].items() if not k.startswith("node:")},
            labels=row.get("labels") or {},
        )
        for row in _state_api(address, "nodes", token)
    ]


def list_actors(address: str, token: str | None, class_name: str) -> list[dict]:
    """Actors of one class (alive and recently dead), each with its `node_id` and `state`."""
    return _state_api(
        address, "actors", token, ["filter_keys=class_name", "filter_predicates=%3D", f"filter_values={class_name}"]
    )


def list_alive_actors(address: str, token: str | None) -> list[dict]:
    """Every alive actor, each with its `node_id` and `class_name` (at most 1000: the state API's page)."""
    return _state_api(address, "actors", token, ["filter_keys=state", "filter_predicates=%3D", "filter_values=ALIVE"])


def cluster_usage(address: str, token: str | None) -> str:
    """The autoscaler's report (`ray status` text): nodes, resources used / total, pending demands."""
    body = get_json(f"{address}/api/cluster_status?format=1", token)
    return body["data"].get("clusterStatus") or "(no autoscaler report yet)"
