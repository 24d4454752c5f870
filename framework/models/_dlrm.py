"""`dlrm`: the reference DLRM (facebookresearch/dlrm, Naumov et al. 2019) with dot interactions.

The bottom MLP maps the continuous inputs to one vector of `embedding_dim`; every pair of
[bottom output, embedding_1, ..., embedding_k] is dotted (strict upper triangle, no self-products,
as the reference's `arch_interaction_itself=False`); the pairs are concatenated with the bottom
output and go through the top MLP to one logit (the reference's final sigmoid is left to the loss).
With no continuous columns there is no bottom MLP and only the embeddings interact (two needed).

Example:
    >>> model = DLRM(13, [1000, 50], embedding_dim=16, bottom_mlp=[64, 16], top_mlp=[64, 32])
    >>> model(torch.zeros(4, 13), torch.zeros(4, 2, dtype=torch.long)).shape
    torch.Size([4])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from pydantic import Field, PositiveInt, ValidationInfo, field_validator
from torch import nn

from framework.config import StrictModel
from framework.errors import ConfigError
from framework.models._layers import TabularInputs, mlp_stack

__all__ = ["DLRM", "DLRMHyperparameters"]


class DLRMHyperparameters(StrictModel):
    """The `model:` keys of `name: dlrm`. `bottom_mlp[-1]` must equal `embedding_dim`."""

    embedding_dim: PositiveInt = 16
    bottom_mlp: list[PositiveInt] = Field(default_factory=lambda: [64, 16], min_length=1, validate_default=True)
    top_mlp: list[PositiveInt] = Field(default_factory=lambda: [64, 32])

    @field_validator("bottom_mlp")
    @classmethod
    def _last_size_is_embedding_dim(cls, sizes: list[int], info: ValidationInfo) -> list[int]:
        embedding_dim = info.data.get("embedding_dim")
        if embedding_dim is not None and sizes[-1] != embedding_dim:
            raise ValueError(_size_mismatch(sizes, embedding_dim))
        return sizes


def _size_mismatch(sizes: Sequence[int], embedding_dim: int) -> str:
    return (
        f"the last bottom_mlp size ({sizes[-1]}) must equal embedding_dim ({embedding_dim}), because the "
        f"bottom output is dotted with every embedding; e.g. bottom_mlp: {[*list(sizes)[:-1], embedding_dim]}"
    )


class DLRM(nn.Module):
    """Bottom MLP + embeddings → pairwise dot products → top MLP → 1 logit."""

    Hyperparameters = DLRMHyperparameters

    def __init__(
        self,
        num_continuous: int,
        cardinalities: Sequence[int],
        *,
        embedding_dim: int = 16,
        bottom_mlp: Sequence[int] = (64, 16),
        top_mlp: Sequence[int] = (64, 32),
    ):
        super().__init__()
        if not bottom_mlp or bottom_mlp[-1] != embedding_dim:
            raise ConfigError(f"model.bottom_mlp: {_size_mismatch(list(bottom_mlp) or [0], embedding_dim)}")
        self.inputs = TabularInputs(num_continuous, cardinalities, embedding_dim)
        if num_continuous == 0 and len(self.inputs.cardinalities) < 2:
            # With no bottom output, only embedding pairs reach the top MLP: one column makes no pair.
            raise ConfigError("model inputs: dlrm without continuous columns needs at least two categorical columns")
        # The reference DLRM's bottom MLP ends in a ReLU too; its output is an "embedding" of the dense part.
        self.bottom = mlp_stack(num_continuous, bottom_mlp)[0] if num_continuous else None
        vectors = len(self.inputs.cardinalities) + (1 if self.bottom is not None else 0)
        rows, cols = torch.triu_indices(vectors, vectors, offset=1)
        # Not persistent: derived from the shape, so it never enters the saved weights.
        # One flat index into the [vectors x vectors] products: index_select on the flattened matrix is
        # several times faster than advanced indexing with row and column tensors on CPUs.
        self.register_buffer("pair_flat", rows * vectors + cols, persistent=False)
        width = rows.numel() + (embedding_dim if self.bottom is not None else 0)
        self.top, width = mlp_stack(width, top_mlp)
        self.head = nn.Linear(width, 1)
        self._init_linear_like_reference()

    def _init_linear_like_reference(self) -> None:
        # Reference DLRM: W ~ N(0, sqrt(2/(fan_in+fan_out))), b ~ N(0, sqrt(1/fan_out)).
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                fan_out, fan_in = layer.weight.shape
                nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / (fan_in + fan_out)))
                nn.init.normal_(layer.bias, 0.0, math.sqrt(1.0 / fan_out))

    def forward(self, continuous: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        dense, embedded = self.inputs(continuous, categorical)
        if self.bottom is not None:
            bottom = self.bottom(dense)
            vectors = torch.cat([bottom.unsqueeze(1), embedded], dim=1)
        else:
            vectors = embedded
        products = torch.bmm(vectors, vectors.transpose(1, 2))
        pairs = products.flatten(1).index_select(1, self.pair_flat)
        top_input = torch.cat([bottom, pairs], dim=1) if self.bottom is not None else pairs
        return self.head(self.top(top_input)).squeeze(-1)
