"""The HTTP face of the scoring service: a FastAPI app, the same in a Serve replica and in uvicorn.

Routes:
- `POST /v1/predict` `{"rows": [...]}` → `{"scores": [...], "model": {"name", "version"}}`;
- `GET /healthz` → `{"status": "ok", "model": {...}}` (no auth, for load balancers);
- `GET /metrics` → Prometheus text.

Auth is checked before the body is read; the body is read at most `max_body_bytes` far (413 beyond).
Every route answers from its own code, so no client input reaches Starlette's 500 handler.

Example:
    >>> app = build_app(service, BearerCheck(digest), collect_metrics)            # doctest: +SKIP
    >>> TestClient(app).post("/v1/predict", json={"rows": [...]}, headers=auth)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from typing import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.requests import ClientDisconnect

from framework.serve._auth import BearerCheck
from framework.serve._service import LOGGER_NAME, Reply, ScoringService, where_it_failed

__all__ = ["build_app", "ROUTES", "PROMETHEUS_CONTENT_TYPE"]

logger = logging.getLogger(LOGGER_NAME)
ROUTES = ("/v1/predict", "/healthz", "/metrics")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_UNAUTHORIZED = Reply(401, {"detail": "missing or invalid bearer token"}, {"WWW-Authenticate": "Bearer"})


def _json_response(reply: Reply) -> Response:
    return Response(
        content=json.dumps(reply.payload, separators=(",", ":")).encode(),
        status_code=reply.status,
        media_type="application/json",
        headers=reply.headers,
    )


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is known to be longer than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _RequestMetrics:
    """Pure ASGI middleware: counts every HTTP response by route and status, with its latency."""

    def __init__(self, app, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("path", "")
            self.metrics.observe_request(route if route in ROUTES else "other", status[0], time.perf_counter() - started)


def build_app(service: ScoringService, auth: BearerCheck, collect_metrics: Callable[[], Awaitable[str]]) -> FastAPI:
    """The FastAPI app over one ScoringService. `collect_metrics()` returns the Prometheus text."""
    app = FastAPI(title="raylane scoring", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(_RequestMetrics, metrics=service.metrics)
    limit = service.settings.max_body_bytes

    @app.post("/v1/predict")
    async def predict(request: Request) -> Response:
        if not auth.allows(request.headers.get("authorization")):
            return _json_response(_UNAUTHORIZED)
        try:
            body = await _read_limited(request, limit)
            if body is None:
                return _json_response(Reply(413, {"detail": f"request body over the limit of {limit} bytes"}))
            return _json_response(await service.predict(body))
        except ClientDisconnect:
            return Response(status_code=499)
        except Exception as error:  # noqa: BLE001 - answered as a 500 and logged without values
            logger.error("predict failed: %s", where_it_failed(error))
            return _json_response(Reply(500, {"detail": "internal error; it is logged on the server"}))

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json_response(Reply(200, {"status": "ok", "model": service.source.current.describe()}))

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        if not auth.allows(request.headers.get("authorization")):
            return _json_response(_UNAUTHORIZED)
        return Response(content=await collect_metrics(), media_type=PROMETHEUS_CONTENT_TYPE)

    return app
