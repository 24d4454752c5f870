"""The Ray Serve edge: the `Scorer` ingress deployment, the `MetricsBoard`, and the application.

`Scorer` replicas each load the model once, answer HTTP through the FastAPI app of `_app.py`, batch
concurrent requests with `@serve.batch`, check the bundle for changes, and push their counters to
the one `MetricsBoard`, so GET /metrics on any replica reports the whole deployment.

Ray is imported here and nowhere else in framework.serve; importing this module imports ray.serve.

Example:
    >>> app = build_application(cfg, token_digest=digest)              # doctest: +SKIP
    >>> serve.run(app, name="raylane", route_prefix="/")               # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from ray import serve

from framework.serve._app import build_app
from framework.serve.config import autoscaling_config
from framework.serve._auth import BearerCheck
from framework.serve._metrics import ServeMetrics, merge_snapshots, render_prometheus
from framework.serve._model_source import ModelSource, keep_model_fresh
from framework.serve._scoring import BatchedScoring, DirectScoring
from framework.serve._service import LOGGER_NAME, ScoringService, ServiceSettings, where_it_failed

__all__ = ["MetricsBoard", "Scorer", "build_application", "deployment_options", "settings_from_config"]

logger = logging.getLogger(LOGGER_NAME)
SCORER_NAME = "Scorer"
BOARD_NAME = "MetricsBoard"


def settings_from_config(cfg, token_digest: str | None) -> ServiceSettings:
    return ServiceSettings(
        model_place=cfg.model.path,
        reload_check_s=cfg.model.reload_check_s,
        max_body_bytes=cfg.limits.max_body_bytes,
        max_rows=cfg.limits.max_rows,
        token_digest=token_digest,
        batching=cfg.batching.enabled,
        max_batch_size=cfg.batching.max_batch_size,
        batch_wait_timeout_s=cfg.batching.batch_wait_timeout_s,
        cpu_threads=cfg.deployment.cpu_threads,
    )


@serve.deployment(name=BOARD_NAME, num_replicas=1, ray_actor_options={"num_cpus": 0})
class MetricsBoard:
    """The latest counters of every Scorer replica (kept after a replica dies, so totals never drop)."""

    def __init__(self, live_after_s: float = 10.0):
        self.snapshots: dict[str, dict] = {}
        self.live_after_s = live_after_s

    def push(self, replica: str, snapshot: dict) -> None:
        self.snapshots[replica] = snapshot

    def merged(self, replica: str, snapshot: dict) -> dict:
        self.push(replica, snapshot)
        merged = merge_snapshots(self.snapshots.values())
        # The model gauge counts live replicas only: a dead one's last snapshot stops counting.
        fresh = [s for s in self.snapshots.values() if time.time() - s["taken_at"] < self.live_after_s]
        merged["models"] = merge_snapshots(fresh)["models"]
        return merged


def _limit_threads(threads: int) -> None:
    # A replica holds a fraction of a core; more threads than that only contend (measured: 10x slower).
    import torch

    os.environ["RAYLANE_CPU_THREADS"] = str(threads)
    torch.set_num_threads(threads)


@serve.deployment(name=SCORER_NAME)
@serve.ingress()
class Scorer:
    """One replica: the model loaded once, the HTTP app, batching, model reloads, metrics pushes."""

    async def __init__(self, settings: ServiceSettings, board=None):
        _limit_threads(settings.cpu_threads)
        self.settings = settings
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.source = ModelSource(settings.model_place)
        self.metrics = ServeMetrics()
        self.metrics.observe_model(**self.source.current.describe(), reloaded=False)
        scoring = (
            BatchedScoring(self.metrics, settings.max_batch_size, settings.batch_wait_timeout_s)
            if settings.batching
            else DirectScoring(self.metrics)
        )
        self.service = ScoringService(settings, self.source, self.metrics, scoring)
        self.board = board
        self._tasks = [asyncio.create_task(self._push_metrics_forever())]
        if settings.reload_check_s > 0:
            self._tasks.append(asyncio.create_task(keep_model_fresh(self.source, settings.reload_check_s, self._switched)))

    def __del__(self):
        for task in getattr(self, "_tasks", ()):  # absent when __init__ failed
            task.cancel()

    def __serve_build_asgi_app__(self):
        return build_app(self.service, BearerCheck(self.settings.token_digest), self._collect_metrics)

    def _switched(self, model) -> None:
        self.metrics.observe_model(**model.describe(), reloaded=True)

    async def _collect_metrics(self) -> str:
        merged = None
        if self.board is not None:
            try:
                merged = await self.board.merged.remote(self.replica, self.metrics.snapshot())
            except Exception as error:  # noqa: BLE001 - the board restarting must not break /metrics
                logger.warning("metrics board unreachable (%s); reporting this replica only", where_it_failed(error))
        text = render_prometheus(merged or merge_snapshots([self.metrics.snapshot()]))
        return text if merged else "# only this replica: the metrics board is unreachable\n" + text

    async def _push_metrics_forever(self) -> None:
        while self.board is not None:
            await asyncio.sleep(self.settings.metrics_push_s)
            try:
                await self.board.push.remote(self.replica, self.metrics.snapshot())
            except Exception as error:  # noqa: BLE001 - retried at the next push
                logger.warning("metrics push failed: %s", where_it_failed(error))


def deployment_options(cfg, placement=None) -> dict:
    """Serve options of the Scorer deployment, from the config's `deployment` section (and the label
    selector of its workload class, with a constrained `framework.workload.Placement`)."""
    section = cfg.deployment
    placed = placement.remote_args() if placement is not None else {}
    options = {
        "ray_actor_options": {"num_cpus": section.num_cpus, "num_gpus": section.num_gpus, **placed},
        "max_ongoing_requests": section.max_ongoing_requests,
        "max_queued_requests": section.max_queued_requests,
        "graceful_shutdown_timeout_s": section.graceful_shutdown_timeout_s,
        "health_check_period_s": section.health_check_period_s,
        "backpressure_config": {"status_code": 503, "retry_after_s": section.retry_after_s},
    }
    if section.autoscaling is not None:
        options["autoscaling_config"] = autoscaling_config(section.autoscaling)
    else:
        options["num_replicas"] = section.num_replicas
    return options


def build_application(cfg, token_digest: str | None, placement=None):
    """The Serve application of a ServeConfig: Scorer replicas plus their MetricsBoard, on the nodes of
    its workload class (`placement`, resolved on the connected cluster when not given)."""
    from framework.workload import resolve_placement

    placement = placement or resolve_placement(cfg.workload)
    settings = settings_from_config(cfg, token_digest)
    board = MetricsBoard.options(ray_actor_options={"num_cpus": 0, **placement.remote_args()})
    return Scorer.options(**deployment_options(cfg, placement)).bind(settings, board.bind())
