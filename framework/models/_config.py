"""The `model:` section of a training config: validate it, and build the model it names.

Example:
    >>> config = validate_model_config({"name": "dlrm", "embedding_dim": 16, "bottom_mlp": [64, 16]})
    >>> config.to_dict()["top_mlp"]
    [64, 32]
    >>> model = build_model(config, num_continuous=13, cardinalities=[1000, 50], seed=0)
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import BaseModel, create_model
from torch import nn

from framework.config import StrictModel
from framework.config._model import validate_model
from framework.errors import ConfigError
from framework.models._registry import known_model_names, resolve_model_class

__all__ = ["ModelConfig", "validate_model_config", "build_model"]


@dataclass(frozen=True)
class ModelConfig:
    """A validated model choice: its `name` and every hyperparameter, defaults filled in (JSON values)."""

    name: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The `model:` mapping again; `validate_model_config(c.to_dict()) == c`."""
        return {"name": self.name, **copy.deepcopy(self.hyperparameters)}

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any], source: str = "model config") -> "ModelConfig":
        return validate_model_config(mapping, source=source)


@functools.lru_cache(maxsize=None)
def _section_model(hyperparameters: type[BaseModel]) -> type[BaseModel]:
    # Validating {"model": {...}} makes every pydantic error location read `model.<field>`.
    return create_model("ModelSection", __base__=StrictModel, model=(hyperparameters, ...))


def validate_model_config(mapping: Mapping[str, Any], source: str = "model config") -> ModelConfig:
    """Check a `model:` mapping; ConfigError naming `model.<field>` and what is allowed.

    Built-in models (and user models with a pydantic `Hyperparameters` class attribute) have their
    keys validated; other user models get their keys passed through, which must be JSON values.
    """
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{source}: model: expected a mapping with a `name` key, got {type(mapping).__name__}")
    name = mapping.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{source}: model.name: required, got {name!r}; known models: {known_model_names()} "
            "or a dotted import path such as my_package.my_module:MyModel"
        )
    model_class = resolve_model_class(name)
    given = {key: value for key, value in mapping.items() if key != "name"}
    schema = getattr(model_class, "Hyperparameters", None)
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        section = validate_model(_section_model(schema), {"model": given}, source)
        return ModelConfig(name, section.model.model_dump(mode="json"))
    try:
        json.dumps(given, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source}: model: hyperparameters of {name!r} must be JSON values ({error})") from None
    return ModelConfig(name, copy.deepcopy(given))


def build_model(
    config: ModelConfig | Mapping[str, Any],
    num_continuous: int,
    cardinalities: Sequence[int],
    seed: int | None = None,
) -> nn.Module:
    """Construct `Model(num_continuous, cardinalities, **hyperparameters)`; same seed → same weights.

    The seed drives a forked CPU generator, so the caller's global torch RNG is left as it was.
    """
    if not isinstance(config, ModelConfig):
        config = validate_model_config(config)
    model_class = resolve_model_class(config.name)
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.random.default_generator.manual_seed(int(seed))
        try:
            model = model_class(int(num_continuous), [int(c) for c in cardinalities], **config.hyperparameters)
        except TypeError as error:
            raise ConfigError(
                f"model: {config.name}(num_continuous, cardinalities, **hyperparameters) failed: {error}; "
                "every model takes this signature (see framework.models)"
            ) from error
    return model
