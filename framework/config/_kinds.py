"""Which config model validates which YAML: one registry, used by every job and `raylane validate`."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel

from framework.config._loader import apply_overrides, read_yaml
from framework.config._model import validate_model
from framework.errors import ConfigError

# kind → (model import path, keys whose presence identifies the kind). Checked in order.
CONFIG_KINDS: dict[str, tuple[str, frozenset[str]]] = {
    "train": ("framework.train.config:TrainConfig", frozenset({"data", "features", "model"})),
    "features": ("framework.features:PipelineSpec", frozenset({"ops"})),
    "demo": ("framework.config.jobs:DemoConfig", frozenset({"generate"})),
    "contract": ("framework.data.contract:Contract", frozenset({"columns"})),
    "sweep": ("framework.tune.config:SweepConfig", frozenset({"space", "objective"})),
    "score": ("framework.score.config:ScoreConfig", frozenset({"model", "input", "output"})),
    "serve": ("framework.serve.config:ServeConfig", frozenset({"model", "server"})),
    "nightly": ("framework.monitor.nightly_config:NightlyConfig", frozenset({"registry_name", "gate"})),
}


def _model_for(kind: str) -> type[BaseModel]:
    if kind not in CONFIG_KINDS:
        raise ConfigError(f"unknown config kind {kind!r}; expected one of {sorted(CONFIG_KINDS)}")
    module, _, name = CONFIG_KINDS[kind][0].partition(":")
    return getattr(importlib.import_module(module), name)


def detect_kind(mapping: dict[str, Any], source: str = "config") -> str:
    """The kind named by a top-level `kind:` key, else the first whose identifying keys are all present."""
    if "kind" in mapping:
        return str(mapping["kind"])
    for kind, (_, keys) in CONFIG_KINDS.items():
        if keys <= mapping.keys():
            return kind
    expected = "; ".join(f"{k}: has {', '.join(sorted(v[1]))}" for k, v in CONFIG_KINDS.items())
    raise ConfigError(f"{source}: cannot tell which kind of config this is ({expected}); add `kind: NAME`")


def validate_mapping(mapping: Any, kind: str | None = None, source: str = "config") -> tuple[str, BaseModel]:
    """Validate a parsed mapping as `kind` (detected when None). Returns (kind, model)."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, found {type(mapping).__name__}")
    kind = kind or detect_kind(mapping, source)
    body = {k: v for k, v in mapping.items() if k != "kind"}
    return kind, validate_model(_model_for(kind), body, source)


def load_config(path: str | Path, overrides: Iterable[str] = (), kind: str | None = None):
    """Read YAML, apply `key=value` overrides, validate. Returns (kind, typed config).

    Example:
        >>> kind, cfg = load_config("jobs/configs/demo.yaml", ["generate.rows=1000"])
    """
    mapping = apply_overrides(read_yaml(path) or {}, overrides)
    return validate_mapping(mapping, kind, str(path))
