"""The typed config of `raylane serve` and `jobs/serve.py` (see jobs/configs/serve.yaml).

Example:
    >>> from framework.config import load_config
    >>> kind, cfg = load_config("jobs/configs/serve.yaml", ["model.path=runs/ctr-small/bundle"])
    >>> cfg.batching.max_batch_size
    64
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from framework.config._model import StrictModel
from framework.workload import Workload

__all__ = [
    "AuthSection",
    "BatchingSection",
    "DeploymentSection",
    "LimitsSection",
    "ModelSection",
    "ServeConfig",
    "ServerSection",
    "autoscaling_config",
]


class ModelSection(StrictModel):
    """Which model to serve, and how often replicas look for a new one at that place."""

    path: str = Field(..., description="a model bundle directory (runs/<name>/bundle), or name@alias / name/version")
    reload_check_s: float = Field(
        5.0, ge=0.0, description="seconds between checks for a changed bundle at `path`; 0 turns reloading off"
    )


class AuthSection(StrictModel):
    """Bearer-token auth of /v1/predict and /metrics (GET /healthz stays open for load balancers)."""

    mode: Literal["token", "none"] = Field("token", description="token (default) or none (needs --no-auth)")
    token_file: str | None = Field(None, description="file holding the token (mode 0600); else $RAYLANE_SERVE_TOKEN")


class ServerSection(StrictModel):
    """Where the service listens, and which of Serve's request paths answers there.

    `ingress`: `proxy` is Serve's HTTP proxy on host:port, routing to any replica (one address for
    many replicas, a dead replica's traffic goes to the others). `direct` is Serve's direct ingress:
    each replica serves HTTP itself, replica k on port + k, with no proxy hop (measured 2.5-3x
    the requests/s of the proxy path on 2 cores). `auto`: direct for one fixed replica, proxy otherwise.
    TLS files are passed to Serve's HTTPOptions.
    """

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    ingress: Literal["auto", "proxy", "direct"] = "auto"
    auth: AuthSection = AuthSection()
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    request_timeout_s: float | None = Field(30.0, gt=0.0, description="end-to-end timeout per request")
    access_log: bool = Field(False, description="Serve's per-request access log lines (method, route, status, latency)")

    @model_validator(mode="after")
    def _tls_pair(self) -> "ServerSection":
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together: give both or neither")
        return self


class LimitsSection(StrictModel):
    """What one request may carry. Larger ones get 413, before any parsing of rows."""

    max_body_bytes: int = Field(1_048_576, gt=0, description="request body size limit")
    max_rows: int = Field(1_000, gt=0, description="rows per request")


class BatchingSection(StrictModel):
    """Dynamic batching (`@serve.batch`): concurrent requests are scored in one model call."""

    enabled: bool = True
    max_batch_size: int = Field(64, gt=0, description="rows per model call (a larger request is scored alone)")
    batch_wait_timeout_s: float = Field(
        0.0, ge=0.0, description="how long a batch waits to fill; 0 = take what queued while the last batch ran"
    )


class DeploymentSection(StrictModel):
    """The Serve deployment: replicas, their resources, and the admission limits that shed load."""

    num_replicas: int = Field(1, ge=1, description="ignored when `autoscaling` is set")
    num_cpus: float = Field(0.5, gt=0.0, description="CPUs reserved per replica (fractions allowed)")
    num_gpus: float = Field(0.0, ge=0.0)
    max_ongoing_requests: int = Field(64, gt=0, description="requests a replica works on at once")
    max_queued_requests: int = Field(256, ge=-1, description="waiting beyond that get 503; -1 = unbounded")
    retry_after_s: float = Field(1.0, ge=0.0, description="the Retry-After header of a 503")
    graceful_shutdown_timeout_s: float = Field(20.0, gt=0.0, description="in-flight requests get this long")
    health_check_period_s: float = Field(2.0, gt=0.0, description="how soon a dead replica is noticed and replaced")
    autoscaling: dict[str, Any] | None = Field(
        None, description="passed to Serve's AutoscalingConfig (min_replicas, max_replicas, target_ongoing_requests, ...)"
    )
    cpu_threads: int = Field(1, ge=1, description="torch and feature-kernel threads per replica")

    @field_validator("autoscaling")
    @classmethod
    def _serve_accepts(cls, value: dict | None) -> dict | None:
        if value is not None:
            autoscaling_config(value)  # raises ValueError naming the key
        return value


class ServeConfig(StrictModel):
    """Real-time scoring: `raylane serve`, `python -m jobs.serve CONFIG`."""

    model: ModelSection
    server: ServerSection = ServerSection()
    limits: LimitsSection = LimitsSection()
    batching: BatchingSection = BatchingSection()
    deployment: DeploymentSection = DeploymentSection()
    app_name: str = Field("raylane", min_length=1, description="the Serve application name")
    workload: Workload = Field("serve", description="workload class: only nodes that accept it run the replicas")
    throughput_optimized: bool = Field(
        True, description="Serve's RAY_SERVE_THROUGHPUT_OPTIMIZED request path (gRPC to replicas, user code on the replica's loop)"
    )

    @property
    def ingress(self) -> str:
        """The resolved request path: `direct` or `proxy`."""
        if self.server.ingress != "auto":
            return self.server.ingress
        fixed_single = self.deployment.autoscaling is None and self.deployment.num_replicas == 1
        return "direct" if fixed_single else "proxy"


def autoscaling_config(mapping: dict):
    """Serve's AutoscalingConfig from `deployment.autoscaling` (imports ray.serve only when used).

    Raises ValueError naming unknown keys (Serve itself would ignore a typo) or Serve's own complaint.
    """
    from pydantic import ValidationError
    from ray.serve.config import AutoscalingConfig

    unknown = sorted(set(mapping) - set(AutoscalingConfig.model_fields))
    if unknown:
        allowed = ", ".join(sorted(k for k in AutoscalingConfig.model_fields if not k.startswith("_")))
        raise ValueError(f"unknown key(s) {unknown}; Serve's AutoscalingConfig takes {allowed}")
    try:
        return AutoscalingConfig(**mapping)
    except ValidationError as error:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        raise ValueError(problems) from None
