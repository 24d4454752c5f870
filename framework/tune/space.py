"""The search space: distributions over dotted keys of the training config, and applying a trial's values.

Each entry names one key of the training config and one distribution:

    optim.lr: {loguniform: [1.0e-4, 1.0e-2]}
    optim.weight_decay: {uniform: [0.0, 1.0e-4]}
    optim.batch_size: {int: [256, 2048], log: true}      # `step: N` also allowed
    model.embedding_dim: {categorical: [8, 16, 32]}

`tied` keys copy a searched value (DLRM needs `model.bottom_mlp.-1` equal to `model.embedding_dim`).

Example:
    >>> params = {"optim.lr": 0.003, "model.embedding_dim": 8}
    >>> trial_train_dict(base, params, {"model.bottom_mlp.-1": "model.embedding_dim"})["model"]["bottom_mlp"]
    [64, 8]
"""

from __future__ import annotations

import builtins
import math
from pathlib import Path
from typing import Any

from pydantic import model_validator

from framework.config import StrictModel, apply_overrides, read_yaml, validate_mapping
from framework.errors import ConfigError

__all__ = ["Distribution", "check_space", "check_tied", "suggest_params", "train_config_dict", "trial_train_dict"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KINDS = ("uniform", "loguniform", "int", "categorical")
# Set by the sweep for every trial (storage, run name, workers), so not searchable.
_RESERVED = ("data.", "scaling.", "run.name", "run.storage_path")


class Distribution(StrictModel):
    """One searched key: exactly one of uniform/loguniform/int (a [low, high] pair) or categorical."""

    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    # `int` names a field here, so annotations spell the type builtins.int
    int: tuple[builtins.int, builtins.int] | None = None
    categorical: list[bool | builtins.int | float | str] | None = None
    log: bool = False
    step: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping such as {{loguniform: [1.0e-4, 1.0e-2]}}, got {value!r}")
        kinds = [k for k in value if k in KINDS]
        unknown = [k for k in value if k not in (*KINDS, "log", "step")]
        if unknown:
            raise ValueError(f"unknown distribution {unknown[0]!r}; expected one of {', '.join(KINDS)}")
        if len(kinds) != 1:
            raise ValueError(f"expected exactly one of {', '.join(KINDS)}, got {kinds or 'none'}")
        return value

    @model_validator(mode="after")
    def _valid_bounds(self) -> "Distribution":
        kind = self.kind
        if kind == "categorical":
            if not self.categorical:
                raise ValueError("categorical needs at least one choice")
            if self.log or self.step is not None:
                raise ValueError("log and step do not apply to categorical")
            return self
        low, high = getattr(self, kind)
        if not low < high:
            raise ValueError(f"{kind} needs [low, high] with low < high, got [{low}, {high}]")
        if kind == "loguniform" and low <= 0:
            raise ValueError(f"loguniform needs 0 < low, got [{low}, {high}]")
        if kind == "int" and self.log and low < 1:
            raise ValueError(f"int with log: true needs low >= 1, got [{low}, {high}]")
        if self.log and kind != "int":
            raise ValueError(f"log applies to int only ({kind} is {'already' if kind == 'loguniform' else 'never'} logarithmic)")
        if self.step is not None and (self.step <= 0 or self.log or kind == "loguniform"):
            raise ValueError("step must be > 0 and cannot combine with a logarithmic scale")
        if kind == "int" and self.step is not None and self.step != int(self.step):
            raise ValueError(f"int needs a whole step, got {self.step}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    def boundary_values(self) -> list:
        """Values that must all be valid in the training config: the bounds, or every choice."""
        if self.kind == "categorical":
            return list(self.categorical)
        return list(getattr(self, self.kind))

    def suggest(self, trial, name: str):
        """Draw this key's value from an Optuna trial (define-by-run)."""
        kind = self.kind
        if kind == "categorical":
            return trial.suggest_categorical(name, self.categorical)
        low, high = getattr(self, kind)
        if kind == "int":
            return trial.suggest_int(name, low, high, step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, low, high, log=kind == "loguniform", step=self.step)

    def tune_domain(self):
        """The same distribution as a Ray Tune domain (pbt resamples from it)."""
        from ray import tune

        kind = self.kind
        if kind == "categorical":
            return tune.choice(self.categorical)
        low, high = getattr(self, kind)
        if kind == "int":
            return tune.lograndint(low, high + 1) if self.log else tune.qrandint(low, high, int(self.step or 1))
        if kind == "loguniform":
            return tune.loguniform(low, high)
        return tune.quniform(low, high, self.step) if self.step else tune.uniform(low, high)


def _base_path(base: str) -> Path:
    path = Path(base).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return PROJECT_ROOT / path


def train_config_dict(base: str | None, inline: dict | None, overrides: list[str]) -> dict:
    """The base training config as a mapping: the file or inline mapping, plus overrides."""
    mapping = read_yaml(_base_path(base)) if base is not None else inline
    if not isinstance(mapping, dict):
        raise ConfigError(f"base {base}: expected a training config mapping, found {type(mapping).__name__}")
    return apply_overrides(mapping, overrides)


def trial_train_dict(base: dict, params: dict, tied: dict[str, str]) -> dict:
    """The base with one trial's values (and the keys tied to them) applied."""
    overrides = [f"{key}={_yaml_scalar(value)}" for key, value in params.items()]
    overrides += [f"{key}={_yaml_scalar(params[source])}" for key, source in tied.items() if source in params]
    return apply_overrides(base, overrides)


def _yaml_scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _validate_train(mapping: dict, source: str):
    return validate_mapping(mapping, "train", source)[1]


def check_space(base: dict, space: dict[str, Distribution], tied: dict[str, str], trial_overrides: list[str]) -> None:
    """Every searched key must be a key of the training config, valid at every bound or choice."""
    _validate_train(base, "base training config")
    trial_base = apply_overrides(base, trial_overrides)
    _validate_train(trial_base, "base training config with trial_overrides")
    for key, distribution in space.items():
        if key.startswith(_RESERVED) or "/" in key:
            raise ConfigError(f"space.{key}: data, scaling, run.name and run.storage_path are set by the sweep, not searched")
        if not _key_exists(trial_base, key):
            raise ConfigError(f"space.{key}: not a key of the training config; {_nearby_keys(trial_base, key)}")
        for value in distribution.boundary_values():
            try:
                _validate_train(trial_train_dict(trial_base, {key: value}, tied), "config")
            except ConfigError as error:
                detail = str(error).removeprefix("config: invalid config\n  ").strip()
                if f"{key.rsplit('.', 1)[-1]}: unknown field" in detail or f"{key}: unknown field" in detail:
                    raise ConfigError(f"space.{key}: not a key of the training config ({detail})") from None
                raise ConfigError(f"space.{key} = {value!r} is not a valid training config: {detail}") from None


def check_tied(tied: dict[str, str], space: dict[str, Distribution]) -> None:
    for key, source in tied.items():
        if source not in space:
            raise ConfigError(f"tied.{key}: {source!r} is not a key of the space; tied keys copy a searched value")
        if key in space:
            raise ConfigError(f"tied.{key}: is searched itself; a key is either searched or tied")


def _key_exists(mapping: dict, key: str) -> bool:
    """Known sections may gain optional keys (optim.momentum); unknown ones are caught by validation."""
    parts = key.split(".")
    node: Any = mapping
    for depth, part in enumerate(parts):
        if isinstance(node, list):
            if not (part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node)):
                return False
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                # an optional key of a typed section is fine; the validation of its values decides
                return depth == len(parts) - 1 and depth > 0
            node = node[part]
        else:
            return False
    return True


def _nearby_keys(mapping: dict, key: str) -> str:
    parts = key.split(".")
    node: Any = mapping
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(parts[:depth]) or "the top level"
            keys = sorted(node) if isinstance(node, dict) else []
            return f"{where} has {', '.join(map(str, keys)) or 'no keys'}"
        node = node[part]
    return ""


def suggest_params(trial, space: dict[str, Distribution]) -> dict:
    """Ask an Optuna trial for every key of the space, in the space's order."""
    return {key: distribution.suggest(trial, key) for key, distribution in space.items()}
