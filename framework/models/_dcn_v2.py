"""`dcn_v2`: DCN-V2 (Wang et al. 2021) with full-rank cross layers, stacked or parallel.

x0 = concat(flattened embeddings, continuous); each cross layer computes
x_{l+1} = x0 * (W_l x_l + b_l) + x_l. "stacked" feeds the cross output to the deep network;
"parallel" runs both on x0 and concatenates their outputs. A final linear layer gives 1 logit.

Example:
    >>> model = DCNv2(13, [1000, 50], embedding_dim=8, cross_layers=2, deep=[64], structure="stacked")
    >>> model(torch.zeros(4, 13), torch.zeros(4, 2, dtype=torch.long)).shape
    torch.Size([4])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from pydantic import Field, NonNegativeInt, PositiveInt
from torch import nn

from framework.config import StrictModel
from framework.errors import ConfigError
from framework.models._layers import TabularInputs, mlp_stack

__all__ = ["DCNv2", "DCNv2Hyperparameters", "CrossNetwork"]

STRUCTURES = ("stacked", "parallel")


class DCNv2Hyperparameters(StrictModel):
    """The `model:` keys of `name: dcn_v2`."""

    embedding_dim: PositiveInt = 16
    cross_layers: NonNegativeInt = 3
    deep: list[PositiveInt] = Field(default_factory=lambda: [256, 128])
    structure: Literal["stacked", "parallel"] = "parallel"
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)


class CrossNetwork(nn.Module):
    """`layers` full-rank cross layers over a width-`width` input; output has the same width."""

    def __init__(self, width: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        for layer in self.layers:
            # Zero bias keeps x_{l+1} ≈ x_l + small at the start, so deep cross stacks stay stable.
            nn.init.zeros_(layer.bias)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class DCNv2(nn.Module):
    """Cross network + deep network → 1 logit."""

    Hyperparameters = DCNv2Hyperparameters

    def __init__(
        self,
        num_continuous: int,
        cardinalities: Sequence[int],
        *,
        embedding_dim: int = 16,
        cross_layers: int = 3,
        deep: Sequence[int] = (256, 128),
        structure: str = "parallel",
        dropout: float = 0.0,
    ):
        super().__init__()
        if structure not in STRUCTURES:
            raise ConfigError(f"model.structure: got {structure!r}; expected one of {STRUCTURES}")
        self.structure = structure
        self.inputs = TabularInputs(num_continuous, cardinalities, embedding_dim)
        width = num_continuous + len(self.inputs.cardinalities) * embedding_dim
        self.cross = CrossNetwork(width, cross_layers)
        self.deep, deep_width = mlp_stack(width, deep, dropout)
        self.head = nn.Linear(deep_width + width if structure == "parallel" else deep_width, 1)

    def forward(self, continuous: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        dense, embedded = self.inputs(continuous, categorical)
        x0 = torch.cat([embedded.flatten(1), dense], dim=1)
        if self.structure == "stacked":
            out = self.deep(self.cross(x0))
        else:
            out = torch.cat([self.cross(x0), self.deep(x0)], dim=1)
        return self.head(out).squeeze(-1)
