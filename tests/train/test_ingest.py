"""How datasets reach the workers (framework.train._ingest), checked against the rows put in."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from framework.train._ingest import RaylaneDataConfig, row_ranges

ROWS = 1001  # odd: two equal shards would have to drop a row


@pytest.mark.parametrize("rows,parts", [(0, 2), (1, 2), (1001, 2), (1000, 3), (7, 7), (5, 8)])
def test_row_ranges_cover_every_row_in_near_equal_parts(rows, parts):
    cuts = [0, *row_ranges(rows, parts), rows]
    sizes = np.diff(cuts)
    assert len(sizes) == parts and sizes.sum() == rows and (sizes >= 0).all()
    assert sizes.max() - sizes.min() <= 1


def _ids(iterator) -> list[int]:
    return [int(i) for batch in iterator.iter_batches(batch_size=128, batch_format="numpy") for i in batch["id"]]


def _configure(ray, dataset, name: str, world_size: int = 2) -> list:
    shards = RaylaneDataConfig().configure({name: dataset}, world_size=world_size, worker_handles=None,
                                           worker_node_ids=[ray.get_runtime_context().get_node_id()] * world_size)
    return [shard[name] for shard in shards]


def _consume_together(iterators) -> list[list[int]]:
    """Streaming splits are read concurrently, as the workers do."""
    results: list = [None] * len(iterators)

    def read(index: int) -> None:
        results[index] = _ids(iterators[index])

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(iterators))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(r is not None for r in results), "a streaming split never finished"
    return results


@pytest.mark.ray
def test_materialized_valid_in_one_block_reaches_both_workers_without_losing_a_row(ray_cluster):
    dataset = ray_cluster.data.range(ROWS).repartition(1).materialize()
    shards = [_ids(it) for it in _configure(ray_cluster, dataset, "valid")]
    assert sorted(len(s) for s in shards) == [500, 501]
    assert sorted(shards[0] + shards[1]) == list(range(ROWS))


@pytest.mark.ray
def test_materialized_train_is_split_into_equal_shards_of_distinct_rows(ray_cluster):
    dataset = ray_cluster.data.range(ROWS).repartition(3).materialize()
    iterators = _configure(ray_cluster, dataset, "train")
    first = [_ids(it) for it in iterators]
    assert [len(s) for s in first] == [500, 500]
    assert len(set(first[0]) | set(first[1])) == 1000
    assert [_ids(it) for it in iterators] == first, "every epoch reads the same shard"


@pytest.mark.ray
def test_streamed_valid_loses_no_row_and_streamed_train_is_equal(ray_cluster):
    valid = _consume_together(_configure(ray_cluster, ray_cluster.data.range(ROWS), "valid"))
    assert sorted(valid[0] + valid[1]) == list(range(ROWS))
    train = _consume_together(_configure(ray_cluster, ray_cluster.data.range(ROWS), "train"))
    assert len(train[0]) == len(train[1]) and len(set(train[0]) | set(train[1])) == len(train[0]) * 2
