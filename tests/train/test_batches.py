"""fixed_size_batches gives the batches of Ray Data's own iter_torch_batches(batch_size=k)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from framework.train.batches import cut_batches, fixed_size_batches


def _blocks(sizes: list[int]) -> list[dict]:
    start, blocks = 0, []
    for size in sizes:
        ids = torch.arange(start, start + size)
        blocks.append({"id": ids, "x": torch.stack([ids * 2.0, ids * 3.0], 1)})
        start += size
    return blocks


@pytest.mark.parametrize("sizes,batch", [([10, 10, 10], 10), ([7, 1, 0, 13, 4], 5), ([3], 8), ([], 4), ([5, 5], 1), ([1] * 9, 4)])
def test_cut_batches_equal_concatenate_then_split(sizes, batch):
    blocks = _blocks(sizes)
    got = list(cut_batches(blocks, batch))
    total = sum(sizes)
    expected = torch.arange(total).split(batch) if total else []
    assert [b["id"].tolist() for b in got] == [e.tolist() for e in expected]
    for b in got:
        assert torch.equal(b["x"], torch.stack([b["id"] * 2.0, b["id"] * 3.0], 1))


def test_cut_batches_refuses_a_batch_size_below_one():
    with pytest.raises(ValueError, match="batch_size"):
        list(cut_batches(_blocks([3]), 0))


@pytest.mark.ray
def test_fixed_size_batches_match_ray_datas_batches(ray_cluster):
    rows = np.arange(5003)
    dataset = ray_cluster.data.from_numpy(rows).map_batches(
        lambda b: {"id": b["data"], "x": np.stack([b["data"] * 0.5, b["data"] * 1.5], 1).astype(np.float32)}
    ).repartition(7).materialize()
    dtypes = {"id": torch.int64, "x": torch.float32}
    ours = list(fixed_size_batches(dataset.iterator(), 512, dtypes))
    rays = list(dataset.iterator().iter_torch_batches(batch_size=512, dtypes=dtypes, drop_last=False))
    assert len(ours) == len(rays) == 10
    for mine, theirs in zip(ours, rays):
        assert torch.equal(mine["id"], theirs["id"]) and torch.equal(mine["x"], theirs["x"])
        assert mine["x"].dtype == torch.float32
