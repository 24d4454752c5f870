"""Serving metrics: counted per replica, merged across replicas, rendered as Prometheus text.

Each replica counts into a `ServeMetrics`; `snapshot()` is plain JSON-ready data, so snapshots travel
between replicas and `merge_snapshots` adds them up (counters and histogram buckets are sums; the
model-info gauge counts the replicas serving each version). `render_prometheus` writes the text
format 0.0.4 that Prometheus scrapes.

Example:
    >>> metrics = ServeMetrics()
    >>> metrics.observe_request("/v1/predict", 200, 0.004)
    >>> print(render_prometheus(merge_snapshots([metrics.snapshot()])))    # doctest: +ELLIPSIS
    # HELP raylane_serve_requests_total ...
"""

from __future__ import annotations

import bisect
import math
import time
from typing import Iterable

__all__ = ["ServeMetrics", "merge_snapshots", "render_prometheus", "LATENCY_BUCKETS_S", "BATCH_BUCKETS"]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_HELP = {
    "raylane_serve_requests_total": ("counter", "HTTP requests answered, by route and status code"),
    "raylane_serve_rows_scored_total": ("counter", "rows scored"),
    "raylane_serve_model_reloads_total": ("counter", "times a replica switched to a new model bundle"),
    "raylane_serve_request_latency_seconds": ("histogram", "time from request received to response, by route"),
    "raylane_serve_batch_rows": ("histogram", "rows per model call (dynamic batching)"),
    "raylane_serve_batch_requests": ("histogram", "requests per model call (dynamic batching)"),
    "raylane_serve_model_info": ("gauge", "replicas serving each model version"),
}


def _key(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Histogram:
    def __init__(self, bounds: tuple):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def snapshot(self) -> dict:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.total}


class ServeMetrics:
    """The counters of one replica. Not thread-safe: call it from the replica's event loop only."""

    def __init__(self):
        self.counters: dict[str, dict[str, float]] = {}
        self.histograms: dict[str, dict[str, _Histogram]] = {}
        self.model: dict[str, str] = {}

    def _count(self, name: str, labels: dict[str, str], amount: float = 1.0) -> None:
        series = self.counters.setdefault(name, {})
        key = _key(labels)
        series[key] = series.get(key, 0.0) + amount

    def _observe(self, name: str, labels: dict[str, str], value: float, bounds: tuple) -> None:
        series = self.histograms.setdefault(name, {})
        series.setdefault(_key(labels), _Histogram(bounds)).observe(value)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self._count("raylane_serve_requests_total", {"route": route, "status": str(status)})
        self._observe("raylane_serve_request_latency_seconds", {"route": route}, seconds, LATENCY_BUCKETS_S)

    def observe_batch(self, rows: int, requests: int) -> None:
        self._count("raylane_serve_rows_scored_total", {}, rows)
        self._observe("raylane_serve_batch_rows", {}, rows, BATCH_BUCKETS)
        self._observe("raylane_serve_batch_requests", {}, requests, BATCH_BUCKETS)

    def observe_model(self, name: str, version: str, reloaded: bool) -> None:
        self.model = {"name": name, "version": version}
        if reloaded:
            self._count("raylane_serve_model_reloads_total", {})

    def snapshot(self) -> dict:
        """JSON-ready state: {"counters", "histograms", "model", "taken_at"}."""
        return {
            "counters": {name: dict(series) for name, series in self.counters.items()},
            "histograms": {name: {k: h.snapshot() for k, h in series.items()} for name, series in self.histograms.items()},
            "model": dict(self.model),
            "taken_at": time.time(),
        }


def merge_snapshots(snapshots: Iterable[dict]) -> dict:
    """One snapshot summing several replicas'. `models` maps (name, version) label keys → replicas."""
    merged: dict = {"counters": {}, "histograms": {}, "models": {}}
    for snapshot in snapshots:
        for name, series in snapshot.get("counters", {}).items():
            target = merged["counters"].setdefault(name, {})
            for key, value in series.items():
                target[key] = target.get(key, 0.0) + value
        for name, series in snapshot.get("histograms", {}).items():
            target = merged["histograms"].setdefault(name, {})
            for key, histogram in series.items():
                _add_histogram(target, key, histogram)
        if snapshot.get("model"):
            key = _key(snapshot["model"])
            merged["models"][key] = merged["models"].get(key, 0) + 1
    return merged


def _add_histogram(target: dict, key: str, histogram: dict) -> None:
    if key not in target:
        target[key] = {"bounds": list(histogram["bounds"]), "counts": list(histogram["counts"]), "sum": histogram["sum"]}
        return
    existing = target[key]
    existing["counts"] = [a + b for a, b in zip(existing["counts"], histogram["counts"])]
    existing["sum"] += histogram["sum"]


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _braced(key: str, extra: str = "") -> str:
    inner = ",".join(part for part in (key, extra) if part)
    return "{" + inner + "}" if inner else ""


def render_prometheus(merged: dict) -> str:
    """Prometheus text exposition format (version 0.0.4) of a merged snapshot."""
    lines: list[str] = []
    for name, (kind, text) in _HELP.items():
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        if kind == "counter":
            for key, value in sorted(merged["counters"].get(name, {}).items()):
                lines.append(f"{name}{_braced(key)} {_number(value)}")
        elif kind == "histogram":
            for key, histogram in sorted(merged["histograms"].get(name, {}).items()):
                lines += _histogram_lines(name, key, histogram)
        else:
            for key, replicas in sorted(merged["models"].items()):
                lines.append(f"{name}{_braced(key)} {replicas}")
    return "\n".join(lines) + "\n"


def _histogram_lines(name: str, key: str, histogram: dict) -> list[str]:
    lines, cumulative = [], 0
    for bound, count in zip([*histogram["bounds"], math.inf], histogram["counts"]):
        cumulative += count
        le = 'le="' + _number(bound) + '"'
        lines.append(f"{name}_bucket{_braced(key, le)} {cumulative}")
    lines.append(f"{name}_sum{_braced(key)} {_number(histogram['sum'])}")
    lines.append(f"{name}_count{_braced(key)} {cumulative}")
    return lines
