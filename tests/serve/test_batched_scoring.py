"""BatchedScoring (Serve's real `@serve.batch` queue) outside a replica: a lone request skips the batch queue, concurrent ones share calls,
and every request gets exactly its own rows' scores back."""

from __future__ import annotations

import asyncio

import numpy as np
import pyarrow as pa
import pytest

from framework.serve._metrics import ServeMetrics
from framework.serve._scoring import BatchedScoring, ScoringFailed


class _CountingScorer:
    """Scores a row as its `x` times 2 (a reference anyone can check) and records each call's size."""

    def __init__(self):
        self.calls: list[int] = []

    def score(self, table: pa.Table) -> np.ndarray:
        self.calls.append(table.num_rows)
        values = np.asarray(table.column("x").to_pylist(), dtype=np.float64)
        if np.isnan(values).any():
            raise ValueError("a NaN reached the model")
        return values * 2


class _Model:
    def __init__(self):
        self.scorer = _CountingScorer()


def _table(*values: float) -> pa.Table:
    return pa.table({"x": pa.array(values, pa.float64())})


def _batch_requests(metrics: ServeMetrics) -> tuple[float, float]:
    """(requests, model calls) as the batch-size histogram counts them."""
    (histogram,) = metrics.snapshot()["histograms"]["raylane_serve_batch_requests"].values()
    return histogram["sum"], sum(histogram["counts"])


@pytest.fixture
def scoring(monkeypatch):
    from types import SimpleNamespace

    from ray import serve

    # Serve's batch queue reads the replica's max_ongoing_requests (to warn); stand in for the replica.
    replica = SimpleNamespace(_deployment_config=SimpleNamespace(max_ongoing_requests=1000))
    monkeypatch.setattr(serve, "get_replica_context", lambda: replica)
    scoring = BatchedScoring(ServeMetrics(), max_batch_size=64, batch_wait_timeout_s=0.0)
    enqueue, scoring.queued = scoring._enqueue, []

    def enqueue_and_note(item):
        scoring.queued.append(item)
        return enqueue(item)

    scoring._enqueue = enqueue_and_note
    return scoring


def test_a_lone_request_is_scored_at_once_without_the_queue(scoring):
    model = _Model()

    async def one_after_another():
        return [await scoring(model, _table(value, value + 1)) for value in (1.0, 5.0, 9.0)]

    replies = asyncio.run(one_after_another())
    assert [r.tolist() for r in replies] == [[2.0, 4.0], [10.0, 12.0], [18.0, 20.0]]
    assert model.scorer.calls == [2, 2, 2]
    assert scoring.queued == []
    assert scoring.waiting == 0
    assert _batch_requests(scoring.metrics) == (3, 3)


def test_concurrent_requests_share_model_calls_and_get_their_own_scores(scoring):
    model = _Model()
    requests = [_table(*range(start, start + 1 + start % 3)) for start in range(0, 40, 2)]

    async def all_at_once():
        return await asyncio.gather(*(scoring(model, table) for table in requests))

    replies = asyncio.run(all_at_once())
    for table, reply in zip(requests, replies):
        np.testing.assert_array_equal(reply, np.asarray(table.column("x").to_pylist()) * 2)
    assert sum(model.scorer.calls) == sum(t.num_rows for t in requests)
    assert len(model.scorer.calls) < len(requests), "requests that arrived together were batched"
    assert len(scoring.queued) == len(requests)
    assert _batch_requests(scoring.metrics) == (len(requests), len(model.scorer.calls))
    assert scoring.waiting == 0


def test_a_failing_request_fails_alone_in_a_batch(scoring):
    model = _Model()
    requests = [_table(1.0), _table(float("nan")), _table(3.0)]

    async def all_at_once():
        return await asyncio.gather(*(scoring(model, table) for table in requests), return_exceptions=True)

    good, bad, other = asyncio.run(all_at_once())
    assert good.tolist() == [2.0] and other.tolist() == [6.0]
    assert isinstance(bad, ScoringFailed) and isinstance(bad.cause, ValueError)
    assert scoring.waiting == 0
