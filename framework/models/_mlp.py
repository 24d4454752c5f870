"""`mlp`: embeddings concatenated with the continuous inputs, then a ReLU MLP to one logit.

Example:
    >>> model = MLP(num_continuous=13, cardinalities=[1000, 50], embedding_dim=8, hidden=[64])
    >>> model(torch.zeros(4, 13), torch.zeros(4, 2, dtype=torch.long)).shape
    torch.Size([4])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import Field, PositiveInt
from torch import nn

from framework.config import StrictModel
from framework.models._layers import TabularInputs, mlp_stack

__all__ = ["MLP", "MLPHyperparameters"]


class MLPHyperparameters(StrictModel):
    """The `model:` keys of `name: mlp` (besides `name`)."""

    embedding_dim: PositiveInt = 16
    hidden: list[PositiveInt] = Field(default_factory=lambda: [256, 128])
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class MLP(nn.Module):
    """The plain baseline: [continuous, flattened embeddings] → hidden layers → 1 logit."""

    Hyperparameters = MLPHyperparameters

    def __init__(
        self,
        num_continuous: int,
        cardinalities: Sequence[int],
        *,
        embedding_dim: int = 16,
        hidden: Sequence[int] = (256, 128),
        dropout: float = 0.0,
    ):
        super().__init__()
        self.inputs = TabularInputs(num_continuous, cardinalities, embedding_dim)
        width = num_continuous + len(self.inputs.cardinalities) * embedding_dim
        self.hidden, width = mlp_stack(width, hidden, dropout)
        self.head = nn.Linear(width, 1)

    def forward(self, continuous: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        dense, embedded = self.inputs(continuous, categorical)
        features = torch.cat([dense, embedded.flatten(1)], dim=1)
        return self.head(self.hidden(features)).squeeze(-1)
