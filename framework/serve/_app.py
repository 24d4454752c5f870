"""The HTTP face of the scoring service: a FastAPI app, the same in a Serve replica and in uvicorn.

Routes:
- `POST /v1/predict` `{"rows": [...]}` → `{"scores": [...], "model": {"name", "version"}}`;
- `GET /healthz` → `{"status": "ok", "model": {...}}` (no auth, for load balancers);
- `GET /metrics` → Prometheus text.

Auth is checked before the body is read; the body is read at most `max_body_bytes` far (413 beyond).
Before the 413 goes out, the rest of the body is read and dropped (at most `DRAIN_MAX_BYTES`, for
`DRAIN_MAX_SECONDS`), like nginx's lingering close: a server that closes a socket with unread bytes
makes the kernel send a reset, and a client still sending (`urllib` sends the whole body before it
reads) gets that reset instead of the 413. Past either bound the 413 says `Connection: close` and the
connection closes as before. The drain happens in the app, so uvicorn (`local_app`), Serve's direct
ingress and Serve's proxy all get it; it must come before the response, since once a response is
complete uvicorn's `receive()` only answers `http.disconnect`.
Every route answers from its own code, so no client input reaches Starlette's 500 handler.

Example:
    >>> app = build_app(service, BearerCheck(digest), collect_metrics)            # doctest: +SKIP
    >>> TestClient(app).post("/v1/predict", json={"rows": [...]}, headers=auth)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.requests import ClientDisconnect

from framework.serve._auth import BearerCheck
from framework.serve._service import LOGGER_NAME, Reply, ScoringService, where_it_failed

__all__ = ["build_app", "ROUTES", "PROMETHEUS_CONTENT_TYPE", "DRAIN_MAX_BYTES", "DRAIN_MAX_SECONDS"]

logger = logging.getLogger(LOGGER_NAME)
ROUTES = ("/v1/predict", "/healthz", "/metrics")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_UNAUTHORIZED = Reply(401, {"detail": "missing or invalid bearer token"}, {"WWW-Authenticate": "Bearer"})
DRAIN_MAX_BYTES = 64 * 1024 * 1024  # the most of an over-limit body read and dropped before the 413
DRAIN_MAX_SECONDS = 10.0  # and the longest that takes


def _json_response(reply: Reply) -> Response:
    return Response(
        content=json.dumps(reply.payload, separators=(",", ":")).encode(),
        status_code=reply.status,
        media_type="application/json",
        headers=reply.headers,
    )


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


async def _read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes | None:
    """The body, or None once it is known to be longer than `limit` bytes (`chunks` then stops there)."""
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


async def _discard_rest(chunks: AsyncIterator[bytes]) -> bool:
    """Read the rest of `chunks` without keeping it: True once the client sent its last byte, False
    past `DRAIN_MAX_BYTES` or `DRAIN_MAX_SECONDS`."""

    async def discard() -> bool:
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > DRAIN_MAX_BYTES:
                return False
        return True

    try:
        return await asyncio.wait_for(discard(), DRAIN_MAX_SECONDS)
    except asyncio.TimeoutError:
        return False


async def _over_limit(request: Request, chunks: AsyncIterator[bytes], limit: int) -> Response:
    """The 413, once the client has sent the rest of its body (see the module docstring); past the
    drain bounds, or when the client has not started sending, with `Connection: close` instead."""
    declared = _declared_length(request)  # if known, it is over `limit` and nothing is read yet
    # A client waiting for `100 Continue` has sent no body, and after a 413 it sends none.
    waiting = declared is not None and request.headers.get("expect", "").lower() == "100-continue"
    drained = not waiting and (declared or 0) <= DRAIN_MAX_BYTES and await _discard_rest(chunks)
    headers = {} if drained else {"Connection": "close"}
    return _json_response(Reply(413, {"detail": f"request body over the limit of {limit} bytes"}, headers))


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
            chunks, declared = request.stream(), _declared_length(request)
            body = None if declared is not None and declared > limit else await _read_limited(chunks, limit)
            if body is None:
                return await _over_limit(request, chunks, limit)
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
