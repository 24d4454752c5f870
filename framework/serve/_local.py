"""The scoring app in one plain process (no Ray): for tests, and the single-process baseline.

`local_app(settings)` loads the model, scores every request directly (no dynamic batching: that is
Ray Serve's `@serve.batch`), and serves /metrics from its own counters. Run it with uvicorn:

Example:
    >>> app = local_app(ServiceSettings(model_place="runs/ctr-small/bundle"))   # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8001)                           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI

from framework.serve._app import build_app
from framework.serve._auth import BearerCheck
from framework.serve._metrics import ServeMetrics, merge_snapshots, render_prometheus
from framework.serve._model_source import ModelSource, keep_model_fresh
from framework.serve._scoring import DirectScoring
from framework.serve._service import ScoringService, ServiceSettings

__all__ = ["local_app"]


def local_app(settings: ServiceSettings, source: ModelSource | None = None) -> FastAPI:
    """A FastAPI app scoring with `settings.model_place`, reloading it when it changes."""
    source = source or ModelSource(settings.model_place)
    metrics = ServeMetrics()
    metrics.observe_model(**source.current.describe(), reloaded=False)
    service = ScoringService(settings, source, metrics, DirectScoring(metrics))

    async def collect() -> str:
        return render_prometheus(merge_snapshots([metrics.snapshot()]))

    app = build_app(service, BearerCheck(settings.token_digest), collect)
    if settings.reload_check_s > 0:
        app.router.lifespan_context = _reloading(source, metrics, settings.reload_check_s)
    return app


def _reloading(source: ModelSource, metrics: ServeMetrics, every_s: float):
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        def note(model) -> None:
            metrics.observe_model(**model.describe(), reloaded=True)

        task = asyncio.create_task(keep_model_fresh(source, every_s, note))
        try:
            yield
        finally:
            task.cancel()

    return lifespan
