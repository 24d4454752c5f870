"""Scoring one request's rows: directly, or gathered with concurrent requests into one model call.

Both ways end in `BundleScorer.score(table)`, the call batch scoring makes, so online scores equal
batch scores. `BatchedScoring` uses Ray Serve's `@serve.batch` (inside a replica only): requests that
arrive within `batch_wait_timeout_s` are scored together, up to `max_batch_size` rows. A request
that alone fills a batch, or that finds no other request waiting in the replica, is scored on its
own at once: the batch queue has nothing to gather for it. Each request keeps the model it was
validated against, so a batch that straddles a model switch scores each part with its own model.

Example:
    >>> scoring = DirectScoring(metrics)                                  # doctest: +SKIP
    >>> await scoring(model, table)                                       # doctest: +SKIP
    array([0.03..., 0.11...])
"""

from __future__ import annotations

import asyncio

import numpy as np
import pyarrow as pa

from framework.serve._metrics import ServeMetrics

__all__ = ["BatchedScoring", "DirectScoring", "ScoringFailed"]


class ScoringFailed(RuntimeError):
    """The model could not score a request's rows (already validated): a server-side problem."""

    def __init__(self, cause: BaseException):
        super().__init__(type(cause).__name__)
        self.cause = cause


def _score(model, table: pa.Table) -> np.ndarray:
    try:
        return model.scorer.score(table)
    except Exception as error:  # noqa: BLE001 - reported to the caller as a typed failure, never swallowed
        raise ScoringFailed(error) from error


class DirectScoring:
    """One model call per request."""

    def __init__(self, metrics: ServeMetrics):
        self.metrics = metrics

    async def __call__(self, model, table: pa.Table) -> np.ndarray:
        scores = _score(model, table)
        self.metrics.observe_batch(table.num_rows, 1)
        return scores


class BatchedScoring:
    """Concurrent requests share a model call (`@serve.batch`, counted in rows)."""

    def __init__(self, metrics: ServeMetrics, max_batch_size: int, batch_wait_timeout_s: float):
        from ray import serve

        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.waiting = 0  # requests inside __call__: scored alone, queued, or in a batch
        # Built per instance so the batch settings come from the config, not from a decorator literal.
        self._enqueue = serve.batch(
            max_batch_size=max_batch_size,
            batch_wait_timeout_s=batch_wait_timeout_s,
            batch_size_fn=lambda items: sum(table.num_rows for _, table in items),
        )(self._score_batch)

    async def __call__(self, model, table: pa.Table) -> np.ndarray:
        if table.num_rows >= self.max_batch_size:
            return self._score_now(model, table)
        self.waiting += 1
        try:
            # Scoring blocks the event loop, so requests that arrived meanwhile are all ready now:
            # one turn of the loop lets each of them reach this point before anyone decides.
            await asyncio.sleep(0)
            if self.waiting == 1:
                return self._score_now(model, table)
            result = await self._enqueue((model, table))
        finally:
            self.waiting -= 1
        if isinstance(result, ScoringFailed):
            raise result
        return result

    def _score_now(self, model, table: pa.Table) -> np.ndarray:
        scores = _score(model, table)
        self.metrics.observe_batch(table.num_rows, 1)
        return scores

    async def _score_batch(self, items: list[tuple]) -> list:
        results: list = [None] * len(items)
        for model, positions in _group_by_model(items).items():
            tables = [items[i][1] for i in positions]
            for position, scores in zip(positions, self._score_group(model, tables)):
                results[position] = scores
        return results

    def _score_group(self, model, tables: list[pa.Table]) -> list:
        try:
            scores = _score(model, pa.concat_tables(tables) if len(tables) > 1 else tables[0])
        except ScoringFailed as failure:
            if len(tables) == 1:
                return [failure]
            # One bad request must not fail its neighbours: score each alone to find it.
            return [self._score_alone(model, table) for table in tables]
        self.metrics.observe_batch(len(scores), len(tables))
        bounds = np.cumsum([0] + [t.num_rows for t in tables])
        return [scores[start:end] for start, end in zip(bounds[:-1], bounds[1:])]

    def _score_alone(self, model, table: pa.Table):
        try:
            scores = _score(model, table)
        except ScoringFailed as failure:
            return failure
        self.metrics.observe_batch(table.num_rows, 1)
        return scores


def _group_by_model(items: list[tuple]) -> dict:
    groups: dict = {}
    for position, (model, _) in enumerate(items):
        groups.setdefault(model, []).append(position)
    return groups
