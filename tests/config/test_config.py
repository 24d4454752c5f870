"""The config layer: YAML + key=value overrides, errors that name field, value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from framework.config import apply_overrides, detect_kind, load_config, read_yaml, validate_mapping
from framework.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _shipped_yaml_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in (".yaml", ".yml"))


def test_there_are_shipped_configs():
    assert {"demo.yaml", "train_small.yaml", "train_gpu.yaml"} <= {p.name for p in _shipped_yaml_files("jobs")}


@pytest.mark.parametrize("path", _shipped_yaml_files("jobs"), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_job_config_validates(path):
    mapping = read_yaml(path)
    kind, config = validate_mapping(mapping, source=str(path))
    assert config is not None and kind


@pytest.mark.parametrize("path", _shipped_yaml_files("cluster"), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_cluster_yaml_parses(path):
    """Cluster launcher configs and KubeRay manifests are Ray's formats, not raylane job configs:
    tests/cluster checks them against Ray's schema and KubeRay's fields."""
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents and all(isinstance(d, dict) for d in documents)


def test_overrides_are_typed_and_nested():
    config = {"generate": {"rows": 10}}
    result = apply_overrides(config, ["generate.rows=500", "generate.drift=0.5", "workdir=/tmp/x", "a.b.c=[1, 2]"])
    assert result["generate"] == {"rows": 500, "drift": 0.5}
    assert result["workdir"] == "/tmp/x" and result["a"] == {"b": {"c": [1, 2]}}
    assert config == {"generate": {"rows": 10}}, "the input must not be changed"


@pytest.mark.parametrize("override", ["rows", "=3", "a..b=1"])
def test_malformed_overrides(override):
    with pytest.raises(ConfigError, match="override"):
        apply_overrides({}, [override])


def test_override_into_a_scalar_is_refused():
    with pytest.raises(ConfigError, match="generate.rows is 5, not a mapping"):
        apply_overrides({"generate": {"rows": 5}}, ["generate.rows.x=1"])


def test_load_config_with_overrides(tmp_path):
    path = ROOT / "jobs" / "configs" / "demo.yaml"
    kind, config = load_config(path, ["generate.rows=1234", "generate.seed=3"])
    assert kind == "demo" and config.generate.rows == 1234 and config.generate.seed == 3


def test_errors_name_field_value_and_allowed(tmp_path):
    path = ROOT / "jobs" / "configs" / "demo.yaml"
    with pytest.raises(ConfigError) as error:
        load_config(path, ["generate.rows=-5", "generate.drift=abc", "generate.colour=red"])
    message = str(error.value)
    assert str(path) in message
    assert "generate.rows: got -5; input should be greater than 0" in message
    assert "generate.drift: got 'abc'" in message and "valid number" in message
    assert "generate.colour: unknown field" in message


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("generate:\n  rows: [1, 2\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+, column \d+: invalid YAML"):
        read_yaml(path)


def test_missing_file_and_unknown_kind(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        read_yaml(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="cannot tell which kind"):
        detect_kind({"something": 1})
    with pytest.raises(ConfigError, match="unknown config kind 'bogus'"):
        validate_mapping({"kind": "bogus"})
