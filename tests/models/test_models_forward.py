"""Every built-in model: output shape, edge-case inputs, gradients, and the shared constructor contract."""

from __future__ import annotations

import inspect

import pytest
import torch
from tests.models.model_fakes import SMALL_CONFIGS, random_batch

from framework.errors import ConfigError
from framework.models import MODELS, build_model, validate_model_config

LAYOUTS = {
    "mixed": (3, [5, 1, 7]),
    "no_continuous": (0, [5, 7]),
    "no_categorical": (3, []),
    "one_of_each": (1, [2]),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("batch", [1, 7])
def test_forward_gives_one_finite_logit_per_row(small_config, layout, batch):
    num_continuous, cardinalities = LAYOUTS[layout]
    model = build_model(validate_model_config(small_config), num_continuous, cardinalities, seed=0)
    continuous, categorical = random_batch(batch, num_continuous, cardinalities)

    logits = model(continuous, categorical)

    assert logits.shape == (batch,)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("layout", ["mixed", "no_continuous", "no_categorical"])
def test_gradients_reach_every_parameter(small_config, layout):
    num_continuous, cardinalities = LAYOUTS[layout]
    model = build_model(validate_model_config(small_config), num_continuous, cardinalities, seed=0)
    # Enough rows that every embedding row is used, so every row can receive a gradient.
    continuous, categorical = random_batch(256, num_continuous, cardinalities, seed=1)
    labels = torch.randint(0, 2, (256,), generator=torch.Generator().manual_seed(2)).float()

    torch.nn.functional.binary_cross_entropy_with_logits(model(continuous, categorical), labels).backward()

    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, f"{name} got an all-zero gradient"


def test_a_model_needs_at_least_one_input_column(small_config):
    with pytest.raises(ConfigError, match="at least one continuous or categorical column"):
        build_model(validate_model_config(small_config), 0, [])


def test_cardinality_below_one_is_refused():
    with pytest.raises(ConfigError, match="cardinalities must all be >= 1"):
        build_model(validate_model_config({"name": "mlp"}), 1, [3, 0])


def test_wrong_column_count_names_the_input():
    model = build_model(validate_model_config(SMALL_CONFIGS["mlp"]), 2, [3])
    continuous, categorical = random_batch(4, 3, [3])
    with pytest.raises(ValueError, match=r"continuous: expected shape \[batch, 2\]"):
        model(continuous, categorical)


def test_large_embedding_tables_build_on_cpu():
    model = build_model(validate_model_config({"name": "dlrm"}), 13, [1_000_000, 10], seed=0)
    continuous, categorical = random_batch(3, 13, [1_000_000, 10])
    assert model(continuous, categorical).shape == (3,)
    # DLRM init: uniform in ±1/sqrt(cardinality)
    assert model.inputs.embeddings[0].weight.abs().max() <= 1e-3


@pytest.mark.parametrize("name", sorted(MODELS))
def test_hyperparameter_schema_matches_constructor_keywords(name):
    """The pydantic schema and the explicit keywords are one contract: same names, same defaults."""
    model_class = MODELS[name]
    parameters = inspect.signature(model_class.__init__).parameters
    keywords = {k: p.default for k, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    defaults = model_class.Hyperparameters().model_dump()
    assert list(parameters)[1:3] == ["num_continuous", "cardinalities"]
    assert set(keywords) == set(defaults)
    for key, value in defaults.items():
        assert (list(keywords[key]) if isinstance(value, list) else keywords[key]) == value, key


def test_dlrm_without_continuous_columns_needs_two_categorical_ones():
    with pytest.raises(ConfigError, match="dlrm without continuous columns needs at least two"):
        build_model(validate_model_config(SMALL_CONFIGS["dlrm"]), 0, [5])
