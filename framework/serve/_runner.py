"""Starting and stopping the served model on Ray: the one place framework.serve calls Serve's runtime.

`start_serving(cfg, token_digest)` checks the bundle in this process first (a bad path is a clear
error, not a replica crash loop), starts Ray if needed, starts Serve with the request path of
`cfg.ingress`, deploys the application and waits until /healthz answers.

Serve reads its request-path settings (RAY_SERVE_* in ray/serve/_private/constants.py) when its
processes start. raylane hands them to the Serve controller (`controller_options.runtime_env`), and
the proxy and replicas it creates inherit them, so they work on any cluster, but only when this
call starts Serve; a Serve already running keeps the path it started with.

Example:
    >>> endpoint = start_serving(cfg, token_digest=digest)     # doctest: +SKIP
    >>> endpoint.url, endpoint.ingress                         # doctest: +SKIP
    ('http://127.0.0.1:8000', 'direct')
    >>> stop_serving(endpoint)                                 # doctest: +SKIP
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from framework.errors import RaylaneError

__all__ = ["ServingEndpoint", "serve_env", "start_serving", "stop_serving", "wait_until_healthy"]


@dataclass(frozen=True)
class ServingEndpoint:
    """`url` answers every route; with direct ingress `urls` lists each replica's own address."""

    url: str
    app_name: str
    ingress: str
    urls: tuple[str, ...] = ()


def _replica_ports(cfg) -> int:
    autoscaling = cfg.deployment.autoscaling
    return int(autoscaling.get("max_replicas", 1)) if autoscaling else cfg.deployment.num_replicas


def serve_env(cfg) -> dict[str, str]:
    """The RAY_SERVE_* settings of cfg's request path, and where the registry is, for the Serve processes."""
    from framework.config.home import state_env

    env = {**state_env(), **({"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"} if cfg.throughput_optimized else {})}
    if cfg.ingress == "proxy":
        return {**env, "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0"}
    port = cfg.server.port
    return {
        **env,
        "RAY_SERVE_ENABLE_DIRECT_INGRESS": "1",
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(port),  # replica k listens on port + k
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(port + _replica_ports(cfg)),
        "RAY_SERVE_PORT_QUARANTINE_S": "0",  # a restarted replica takes its port back at once
        # Serve holds a stopping direct-ingress replica open for 30 s so an external load balancer
        # can deregister it; without one in front that only delays every stop.
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "1",
    }


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _http_options(cfg) -> dict:
    server = cfg.server
    # With direct ingress the replicas own server.port; Serve's proxy (kept as its fallback) moves aside.
    port = server.port if cfg.ingress == "proxy" else _free_port(server.host)
    options = {"host": server.host, "port": port, "request_timeout_s": server.request_timeout_s}
    if server.ssl_certfile:
        options.update(ssl_certfile=server.ssl_certfile, ssl_keyfile=server.ssl_keyfile)
    return options


def _serve_is_running() -> bool:
    from ray.serve.context import _get_global_client

    return _get_global_client(raise_if_no_controller_running=False) is not None


def wait_until_healthy(url: str, timeout_s: float = 60.0) -> None:
    """Poll GET /healthz until it answers 200 (RaylaneError after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # still starting
        if time.monotonic() > deadline:
            raise RaylaneError(f"{url}/healthz did not answer within {timeout_s:.0f} s; see the Serve logs under /tmp/ray/session_latest/logs/serve")
        time.sleep(0.25)


def _endpoint(cfg) -> ServingEndpoint:
    scheme = "https" if cfg.server.ssl_certfile else "http"
    host = "127.0.0.1" if cfg.server.host in ("0.0.0.0", "::", "") else cfg.server.host
    port, replicas = cfg.server.port, (_replica_ports(cfg) if cfg.ingress == "direct" else 1)
    urls = tuple(f"{scheme}://{host}:{port + k}" for k in range(replicas))
    return ServingEndpoint(url=urls[0], app_name=cfg.app_name, ingress=cfg.ingress, urls=urls)


def check_replicas_fit(cfg, cluster, log=print) -> None:
    """Fail fast when the replicas Serve starts with cannot be placed: `serve.run` would wait forever."""
    from framework.capacity import Ask, check_fits

    section, autoscaling = cfg.deployment, cfg.deployment.autoscaling
    if autoscaling:
        count = int(autoscaling.get("initial_replicas") or autoscaling.get("min_replicas", 1))
        keys = ("deployment.autoscaling.min_replicas", "deployment.num_cpus")
    else:
        count, keys = section.num_replicas, ("deployment.num_replicas", "deployment.num_cpus")
    each = {"CPU": section.num_cpus, **({"GPU": section.num_gpus} if section.num_gpus else {})}
    keys += ("deployment.num_gpus",) if section.num_gpus else ()
    check_fits(Ask(f"{count} Serve replica(s)", keys, max(count, 1), each), cluster, lambda line: log(f"[serve] {line}"))


def start_serving(cfg, token_digest: str | None, wait_s: float = 120.0) -> ServingEndpoint:
    """Deploy the scoring application of `cfg` and return its address once /healthz answers."""
    from framework.serve._model_source import load_model

    load_model(cfg.model.path)  # fail here, with the file named, before any replica tries
    from framework.capacity import Cluster
    from framework.ray_session import ensure_ray
    from framework.workload import resolve_placement

    ensure_ray()
    placement = resolve_placement(cfg.workload, log=lambda line: print(f"[serve] {line}"))
    if placement.constrained:
        print(f"[serve] workload {cfg.workload}: replicas run only on the nodes that accept it")
    check_replicas_fit(cfg, Cluster.from_ray(placement))
    from ray import serve

    from framework.console import Console
    from framework.serve._deployment import build_application

    Console.reclaim_ray_loggers()  # importing ray.serve gave its logger a console handler

    serve_was_running = _serve_is_running()
    if cfg.ingress == "direct" and serve_was_running:
        raise RaylaneError(
            "Serve is already running on this Ray cluster, with the request path it started with; direct ingress "
            "needs a fresh Serve. Stop it (`serve shutdown`) or set server.ingress: proxy"
        )
    logging_config = {"enable_access_log": cfg.server.access_log}
    serve.start(
        http_options=_http_options(cfg),
        logging_config=logging_config,
        controller_options={"runtime_env": {"env_vars": serve_env(cfg)}},
    )
    endpoint = _endpoint(cfg)
    try:
        serve.run(build_application(cfg, token_digest, placement), name=cfg.app_name, route_prefix="/", logging_config=logging_config)
        if not cfg.server.ssl_certfile:
            wait_until_healthy(endpoint.url, wait_s)
    except BaseException:
        _remove_failed_application(endpoint, shutdown=not serve_was_running)
        raise
    return endpoint


def _remove_failed_application(endpoint: ServingEndpoint, shutdown: bool) -> None:
    """A deployment that never became healthy is deleted (and Serve stopped, when this call started
    it), so it holds no route prefix, port or CPU for whatever runs next on this cluster."""
    try:
        stop_serving(endpoint, shutdown=shutdown)
    except Exception:  # noqa: BLE001 - the deployment error is the one worth raising
        pass


def stop_serving(endpoint: ServingEndpoint, shutdown: bool = True) -> None:
    """Delete the application; with `shutdown`, stop Serve too (its proxy and controller)."""
    from ray import serve

    serve.delete(endpoint.app_name)
    if shutdown:
        serve.shutdown()
