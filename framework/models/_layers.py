"""Building blocks shared by the built-in models: the input embeddings and a ReLU MLP stack.

Models compose these (no implementation inheritance), so a user model can reuse them too. A model
whose categorical inputs go through `TabularInputs` (or `EmbeddingTables`) gets sharded embedding
tables in training (`scaling.embeddings`); any other model trains with its tables replicated.

Example:
    >>> inputs = TabularInputs(num_continuous=2, cardinalities=[10, 5], embedding_dim=4)
    >>> dense, embedded = inputs(torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.long))
    >>> tuple(dense.shape), tuple(embedded.shape)
    ((3, 2), (3, 2, 4))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from framework.errors import ConfigError
from framework.models._embeddings import EmbeddingTables

__all__ = ["TabularInputs", "mlp_stack", "check_input_columns"]


def check_input_columns(num_continuous: int, cardinalities: Sequence[int]) -> list[int]:
    """Validate the data-derived constructor arguments every model receives; returns a plain list."""
    if int(num_continuous) < 0:
        raise ConfigError(f"model inputs: num_continuous must be >= 0, got {num_continuous}")
    cards = [int(c) for c in cardinalities]
    bad = [(i, c) for i, c in enumerate(cards) if c < 1]
    if bad:
        # Index 0 is the missing value, so even an all-missing column has cardinality 1.
        raise ConfigError(f"model inputs: cardinalities must all be >= 1, got {bad[:5]} (column index, value)")
    if int(num_continuous) == 0 and not cards:
        raise ConfigError("model inputs: need at least one continuous or categorical column, got none")
    return cards


class TabularInputs(nn.Module):
    """Checks a batch and embeds its categorical columns: one table per column (`EmbeddingTables`).

    Embeddings start uniform in ±1/sqrt(cardinality), as the reference DLRM does: small
    enough that interactions start near zero, scaled so tiny vocabularies still get signal.
    """

    def __init__(self, num_continuous: int, cardinalities: Sequence[int], embedding_dim: int):
        super().__init__()
        self.cardinalities = check_input_columns(num_continuous, cardinalities)
        self.num_continuous = int(num_continuous)
        self.embedding_dim = int(embedding_dim)
        self.embeddings = EmbeddingTables(self.cardinalities, self.embedding_dim)

    @property
    def num_categorical(self) -> int:
        return len(self.cardinalities)

    def forward(self, continuous: torch.Tensor, categorical: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (continuous [B, num_continuous], embedded [B, num_categorical, embedding_dim])."""
        batch = self._check(continuous, categorical)
        if not self.cardinalities:
            return continuous, continuous.new_zeros(batch, 0, self.embedding_dim)
        return continuous, self.embeddings(categorical)

    def _check(self, continuous: torch.Tensor, categorical: torch.Tensor) -> int:
        # A wrong column count otherwise surfaces as an opaque matmul or cat error deep inside.
        if continuous.dim() != 2 or continuous.shape[1] != self.num_continuous:
            raise ValueError(f"continuous: expected shape [batch, {self.num_continuous}], got {list(continuous.shape)}")
        if categorical.dim() != 2 or categorical.shape[1] != self.num_categorical:
            raise ValueError(f"categorical: expected shape [batch, {self.num_categorical}], got {list(categorical.shape)}")
        if continuous.shape[0] != categorical.shape[0]:
            raise ValueError(f"batch sizes differ: continuous {continuous.shape[0]}, categorical {categorical.shape[0]}")
        return continuous.shape[0]


def mlp_stack(in_features: int, sizes: Sequence[int], dropout: float = 0.0) -> tuple[nn.Sequential, int]:
    """Linear → ReLU (→ Dropout) per size. Returns (module, output width); no sizes is the identity."""
    layers: list[nn.Module] = []
    width = int(in_features)
    for size in sizes:
        layers += [nn.Linear(width, int(size)), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = int(size)
    return nn.Sequential(*layers), width
