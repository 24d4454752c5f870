"""Embedding tables as a model declares them: one table per categorical input, placed by training.

`EmbeddingTables` is the component a model composes to get its categorical inputs embedded. In plain
torch (scoring, serving, a user's notebook) it is one `nn.Embedding` per table. A training run may
replace its lookup with sharded tables (`scaling.embeddings`, see framework.train.embeddings); the
model only declares the tables (`specs`), so the same model class trains sharded and loads plain.

Initial rows come from a generator seeded per block of rows, so any worker can build the rows of
its own shard without ever holding the whole table, and every placement starts from the same weights.

Example:
    >>> tables = EmbeddingTables([1000, 50], embedding_dim=8)
    >>> [spec.rows for spec in tables.specs]
    [1000, 50]
    >>> tables(torch.zeros(4, 2, dtype=torch.long)).shape
    torch.Size([4, 2, 8])
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["EmbeddingTables", "TableSpec", "tables_on_meta", "initial_rows", "embedding_tables_of"]

_ROWS_PER_SEED_BLOCK = 8192
_ON_META = contextvars.ContextVar("raylane_tables_on_meta", default=False)


@dataclass(frozen=True)
class TableSpec:
    """One table: its name inside the model's `EmbeddingTables`, rows and width."""

    name: str
    rows: int
    dim: int

    @property
    def weight_bytes(self) -> int:
        return self.rows * self.dim * 4  # float32


@contextlib.contextmanager
def tables_on_meta() -> Iterator[None]:
    """Models built inside declare their tables without allocating them (shapes only).

    Training builds the model this way when the tables are sharded: each worker then allocates
    and initialises only the rows it owns."""
    token = _ON_META.set(True)
    try:
        yield
    finally:
        _ON_META.reset(token)


def initial_rows(seed: int, table: int, rows: int, dim: int, row_range: tuple[int, int],
                 col_range: tuple[int, int] | None = None) -> torch.Tensor:
    """Rows [start, stop) (columns [c0, c1)) of table `table`'s initial weights.

    Uniform in ±1/sqrt(rows), as the reference DLRM. Each block of rows has its own generator, so
    a slice costs only the blocks it touches and equals the same slice of the whole table.
    """
    start, stop = row_range
    c0, c1 = col_range or (0, dim)
    bound = 1.0 / math.sqrt(rows)
    out = torch.empty((max(stop - start, 0), c1 - c0), dtype=torch.float32, device="cpu")
    if stop <= start:
        return out
    for block in range(start // _ROWS_PER_SEED_BLOCK, (stop - 1) // _ROWS_PER_SEED_BLOCK + 1):
        first = block * _ROWS_PER_SEED_BLOCK
        count = min(_ROWS_PER_SEED_BLOCK, rows - first)
        generator = torch.Generator().manual_seed(_block_seed(seed, table, block))
        values = torch.rand((count, dim), generator=generator, dtype=torch.float32, device="cpu").mul_(2 * bound).sub_(bound)
        lo, hi = max(start, first), min(stop, first + count)
        out[lo - start: hi - start] = values[lo - first: hi - first, c0:c1]
    return out


def _block_seed(seed: int, table: int, block: int) -> int:
    return (int(seed) * 1_000_003 + table * 65_537 + block) % (2**63 - 1)


class EmbeddingTables(nn.Module):
    """One table per categorical input (`cardinalities[j]` rows each, `embedding_dim` wide).

    `forward(categorical [B, k]) -> [B, k, embedding_dim]`. The tables are children named "0",
    "1", ... (state-dict keys `<path>.<j>.weight`); `specs` names them `t<j>` for placement.
    """

    def __init__(self, cardinalities: Sequence[int], embedding_dim: int):
        super().__init__()
        self.cardinalities = [int(c) for c in cardinalities]
        self.embedding_dim = int(embedding_dim)
        # One draw from the caller's RNG whether or not the tables are allocated, so the layers built
        # after this one get the same initial weights either way.
        self.init_seed = int(torch.randint(0, 2**62, (1,)).item())
        self.lookup: nn.Module | None = None  # a training placement's replacement (sharded tables)
        for index, rows in enumerate(self.cardinalities):
            self.add_module(str(index), nn.Embedding(rows, self.embedding_dim, device="meta"))
        if not _ON_META.get():
            self.materialize()

    @property
    def specs(self) -> list[TableSpec]:
        return [TableSpec(f"t{j}", rows, self.embedding_dim) for j, rows in enumerate(self.cardinalities)]

    def table(self, index: int) -> nn.Embedding:
        return getattr(self, str(index))

    def __getitem__(self, index: int) -> nn.Embedding:
        return self.table(index)

    def __len__(self) -> int:
        return len(self.cardinalities)

    def materialize(self) -> None:
        """Allocate every table on the CPU with its initial rows."""
        for index, rows in enumerate(self.cardinalities):
            weight = initial_rows(self.init_seed, index, rows, self.embedding_dim, (0, rows))
            self.table(index).weight = nn.Parameter(weight)

    def replace_lookup(self, lookup: nn.Module) -> None:
        """Look up through `lookup` (categorical [B, k] -> [B, k, D]) and drop the plain tables."""
        for index in range(len(self.cardinalities)):
            delattr(self, str(index))
        self.lookup = lookup

    def forward(self, categorical: torch.Tensor) -> torch.Tensor:
        if self.lookup is not None:
            return self.lookup(categorical)
        if not self.cardinalities:
            return categorical.new_zeros((categorical.shape[0], 0, self.embedding_dim), dtype=torch.float32)
        return torch.stack([self.table(j)(categorical[:, j]) for j in range(len(self.cardinalities))], dim=1)


def embedding_tables_of(model: nn.Module) -> list[tuple[str, EmbeddingTables]]:
    """Every `EmbeddingTables` in a model, with its module path (what training may shard)."""
    return [(path, module) for path, module in model.named_modules() if isinstance(module, EmbeddingTables)]
