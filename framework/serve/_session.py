"""Serving from the command line or a job: resolve auth, start, block until Ctrl-C, stop.

Example:
    >>> digest = resolve_auth(cfg)          # the token's SHA-256, or None after printing a warning
    >>> serve_until_interrupted(cfg)        # doctest: +SKIP
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from framework.serve._auth import NO_AUTH_WARNING, resolve_token_digest
from framework.serve._runner import ServingEndpoint, start_serving, stop_serving

__all__ = ["resolve_auth", "serve_until_interrupted", "exposure_warning"]


def resolve_auth(cfg, environ: dict | None = None) -> str | None:
    """SHA-256 of the serving token; None (with a warning on stderr) when auth is explicitly off."""
    if cfg.server.auth.mode == "none":
        print(NO_AUTH_WARNING, file=sys.stderr, flush=True)
        return None
    return resolve_token_digest(cfg.server.auth.token_file, environ)


def exposure_warning(server) -> str | None:
    """A warning when the service listens beyond this machine without TLS (the token crosses in clear)."""
    from framework.cluster.spec import is_loopback

    if is_loopback(server.host) or server.ssl_certfile:
        return None
    return (
        f"warning: serving on {server.host} over plain HTTP: bearer tokens and rows cross the network in clear "
        "text. Set server.ssl_certfile and server.ssl_keyfile, or put a TLS-terminating proxy in front."
    )


def _announce(endpoint: ServingEndpoint, cfg) -> None:
    print(f"[serve] model {cfg.model.path} at {endpoint.url} ({endpoint.ingress} ingress)", flush=True)
    if len(endpoint.urls) > 1:
        print(f"[serve] one replica per address (spread clients or put a load balancer in front): {', '.join(endpoint.urls)}", flush=True)
    print(f"[serve] POST {endpoint.url}/v1/predict  GET {endpoint.url}/healthz  GET {endpoint.url}/metrics", flush=True)
    print("[serve] Ctrl-C (or SIGTERM) stops", flush=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve_until_interrupted(cfg, sleep=time.sleep) -> None:
    """Serve `cfg` until Ctrl-C or SIGTERM, then delete the application and stop Serve."""
    digest = resolve_auth(cfg)
    warning = exposure_warning(cfg.server)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    endpoint = start_serving(cfg, digest)
    _announce(endpoint, cfg)
    # SIGTERM (systemd, Kubernetes, `kill`) stops as cleanly as Ctrl-C: Serve and Ray are shut down.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        while True:
            sleep(3600)
    except KeyboardInterrupt:
        print("[serve] stopping", flush=True)
    finally:
        stop_serving(endpoint)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
