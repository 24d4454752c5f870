"""Real-time scoring on Ray Serve: a FastAPI ingress over the same `BundleScorer` batch scoring uses.

- `config`: `ServeConfig` (model, server, limits, batching, deployment), see jobs/configs/serve.yaml.
- `start_serving` / `stop_serving`: deploy on Ray Serve (local Ray by default) and wait until healthy.
- `serve_until_interrupted`: what `raylane serve` and `jobs/serve.py` run.
- `local_app`: the same HTTP app in one plain process (no Ray), for tests and the baseline.
- `demo_requests`: serve a bundle, send a few real requests, print the replies, stop (for the demo).

Ray is imported only when serving starts, and FastAPI only with `local_app` or a replica, so
`import framework.serve` (and validating a serve config) stays cheap.

Example:
    >>> from framework.serve import ServeConfig, start_serving, stop_serving
    >>> endpoint = start_serving(cfg, token_digest=digest)         # doctest: +SKIP
    >>> stop_serving(endpoint)                                     # doctest: +SKIP
"""

from framework.serve._auth import TOKEN_ENV, BearerCheck, resolve_token_digest, token_digest
from framework.serve._runner import ServingEndpoint, start_serving, stop_serving, wait_until_healthy
from framework.serve._service import ServiceSettings
from framework.serve._session import resolve_auth, serve_until_interrupted
from framework.serve.config import ServeConfig
from framework.serve.demo import demo_requests

__all__ = [
    "TOKEN_ENV",
    "BearerCheck",
    "ServeConfig",
    "ServiceSettings",
    "ServingEndpoint",
    "demo_requests",
    "local_app",
    "resolve_auth",
    "resolve_token_digest",
    "serve_until_interrupted",
    "start_serving",
    "stop_serving",
    "token_digest",
    "wait_until_healthy",
]


def __getattr__(name: str):
    if name == "local_app":  # imports FastAPI: only for whoever asks for it
        from framework.serve._local import local_app

        return local_app
    raise AttributeError(f"module 'framework.serve' has no attribute {name!r}")
