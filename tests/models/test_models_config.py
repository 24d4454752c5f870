"""The `model:` section: validation messages, JSON round trip, seeded builds, user models by path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tests.models.model_fakes import random_batch

from framework.errors import ConfigError
from framework.models import ModelConfig, build_model, validate_model_config

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def importable_tests(monkeypatch):
    """Make `tests.models.user_model` importable however pytest was started."""
    monkeypatch.syspath_prepend(str(REPO_ROOT))


def test_defaults_are_filled_in_and_round_trip_through_json(small_config):
    config = validate_model_config(small_config)
    again = validate_model_config(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert set(small_config) <= set(config.to_dict())


def test_dlrm_defaults_match_the_documented_ones():
    config = validate_model_config({"name": "dlrm"})
    assert config.to_dict() == {"name": "dlrm", "embedding_dim": 16, "bottom_mlp": [64, 16], "top_mlp": [64, 32]}


def test_same_seed_same_weights_different_seed_different(small_config):
    config = validate_model_config(small_config)
    first, second, other = (build_model(config, 2, [5, 3], seed=s).state_dict() for s in (7, 7, 8))
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_seeded_build_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(validate_model_config({"name": "mlp"}), 2, [5], seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        validate_model_config({"name": "transformer"})
    message = str(caught.value)
    assert "model.name" in message and "'transformer'" in message
    for known in ("mlp", "dlrm", "dcn_v2"):
        assert known in message


def test_missing_name_is_reported():
    with pytest.raises(ConfigError, match="model.name: required"):
        validate_model_config({"embedding_dim": 4})


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"name": "mlp", "embedding_dim": -4}, "model.embedding_dim"),
        ({"name": "mlp", "embeding_dim": 4}, "model.embeding_dim"),
        ({"name": "mlp", "hidden": [32, 0]}, "model.hidden.1"),
        ({"name": "mlp", "dropout": 1.5}, "model.dropout"),
        ({"name": "dlrm", "top_mlp": "big"}, "model.top_mlp"),
        ({"name": "dcn_v2", "structure": "both"}, "model.structure"),
        ({"name": "dcn_v2", "cross_layers": -1}, "model.cross_layers"),
    ],
)
def test_bad_hyperparameters_name_the_field(mapping, field):
    with pytest.raises(ConfigError) as caught:
        validate_model_config(mapping)
    assert field in str(caught.value)


def test_dlrm_bottom_mlp_must_end_at_embedding_dim():
    with pytest.raises(ConfigError) as caught:
        validate_model_config({"name": "dlrm", "embedding_dim": 16, "bottom_mlp": [64, 32]})
    message = str(caught.value)
    assert "model.bottom_mlp" in message and "(32)" in message and "embedding_dim (16)" in message


def test_dlrm_default_bottom_mlp_is_checked_against_a_changed_embedding_dim():
    with pytest.raises(ConfigError, match="model.bottom_mlp"):
        validate_model_config({"name": "dlrm", "embedding_dim": 8})


@pytest.mark.parametrize("path", ["tests.models.user_model:TinyModel", "tests.models.user_model.TinyModel"])
def test_user_model_by_import_path(importable_tests, path):
    config = validate_model_config({"name": path, "width": 3})
    model = build_model(config, 2, [4, 5], seed=0)
    assert type(model).__name__ == "TinyModel"
    assert model(*random_batch(6, 2, [4, 5])).shape == (6,)
    assert validate_model_config(config.to_dict()) == config


def test_user_model_hyperparameters_are_validated_by_its_schema(importable_tests):
    with pytest.raises(ConfigError, match="model.width"):
        validate_model_config({"name": "tests.models.user_model:TinyModel", "width": 0})


def test_user_model_without_schema_passes_keys_through(importable_tests):
    config = validate_model_config({"name": "tests.models.user_model:FreeFormModel", "scale": 2.0})
    assert build_model(config, 3, []).scale == 2.0
    with pytest.raises(ConfigError, match="FreeFormModel.*failed"):
        build_model(validate_model_config({"name": config.name, "colour": "red"}), 3, [])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("no_such_package.models:Model", "cannot import module 'no_such_package.models'"),
        ("tests.models.user_model:Missing", "has no attribute 'Missing'"),
        ("tests.models.user_model:not_a_model", "expected a torch.nn.Module subclass"),
        ("tests.models.user_model:", "not a valid import path"),
    ],
)
def test_bad_user_model_paths_are_config_errors(importable_tests, path, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_model_config({"name": path})
