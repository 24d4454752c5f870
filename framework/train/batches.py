"""Fixed-size training batches cut from whole blocks.

`iter_torch_batches(batch_size=k)` builds every batch through Ray Data's batcher: each one is
formatted from Arrow to NumPy to torch on its own. `fixed_size_batches` asks Ray Data for whole
blocks (one conversion each) and cuts them into views of `k` rows, joining the tail of one block to
the head of the next. The batches, and their order, are those of `iter_torch_batches(batch_size=k)`.

Example:
    >>> for batch in fixed_size_batches(shard, 1024, dtypes): ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

__all__ = ["fixed_size_batches", "cut_batches"]


def cut_batches(blocks: Iterable[dict[str, torch.Tensor]], batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of `batch_size` rows (the last may be shorter) from blocks of any sizes, in order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    pending: list[dict[str, torch.Tensor]] = []  # pieces of the next batch, fewer than batch_size rows
    pending_rows = 0
    for block in blocks:
        rows = len(next(iter(block.values())))
        start = 0
        if pending_rows:
            take = min(batch_size - pending_rows, rows)
            pending.append({name: column[:take] for name, column in block.items()})
            pending_rows, start = pending_rows + take, take
            if pending_rows < batch_size:
                continue
            yield _joined(pending)
            pending, pending_rows = [], 0
        while rows - start >= batch_size:
            yield {name: column[start:start + batch_size] for name, column in block.items()}
            start += batch_size
        if start < rows:
            pending, pending_rows = [{name: column[start:] for name, column in block.items()}], rows - start
    if pending_rows:
        yield _joined(pending)


def _joined(pieces: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One batch from consecutive pieces (a lone piece as it is, without a copy)."""
    if len(pieces) == 1:
        return pieces[0]
    return {name: torch.cat([piece[name] for piece in pieces]) for name in pieces[0]}


def fixed_size_batches(shard, batch_size: int, dtypes: dict) -> Iterator[dict[str, torch.Tensor]]:
    """A Ray Dataset's or DataIterator's rows as torch batches of `batch_size`, converted one block at a time."""
    return cut_batches(shard.iter_torch_batches(batch_size=None, dtypes=dtypes), batch_size)
