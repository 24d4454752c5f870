"""A user-defined model, loaded by import path in the tests (`tests.models.user_model:TinyModel`)."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, PositiveInt
from torch import nn


class TinyHyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: PositiveInt = 4


class TinyModel(nn.Module):
    """Sum of per-column embeddings plus a linear term in the continuous inputs."""

    Hyperparameters = TinyHyperparameters

    def __init__(self, num_continuous: int, cardinalities: list[int], *, width: int = 4):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(c, width) for c in cardinalities)
        self.linear = nn.Linear(num_continuous + width, 1)

    def forward(self, continuous: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        pooled = continuous.new_zeros(continuous.shape[0], self.linear.in_features - continuous.shape[1])
        for i, table in enumerate(self.embeddings):
            pooled = pooled + table(categorical[:, i])
        return self.linear(torch.cat([continuous, pooled], dim=1)).squeeze(-1)


class FreeFormModel(nn.Module):
    """No Hyperparameters schema: its keys are passed through unchecked."""

    def __init__(self, num_continuous: int, cardinalities: list[int], scale: float = 1.0):
        super().__init__()
        self.linear = nn.Linear(num_continuous, 1)
        self.scale = scale

    def forward(self, continuous: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        return self.scale * self.linear(continuous).squeeze(-1)


def not_a_model(num_continuous, cardinalities):
    return nn.Linear(num_continuous, 1)
