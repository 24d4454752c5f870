"""YAML is parsed here and nowhere else; overrides are applied here too."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable

import yaml

from framework.errors import ConfigError


def read_yaml(path: str | Path) -> Any:
    """Parse one YAML file (safe loader only), with errors that name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read as a YAML file ({error})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None


def write_yaml(data: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def parse_override(text: str) -> tuple[list[str], Any]:
    """`optim.lr=1e-3` → (['optim', 'lr'], 0.001). Values are YAML scalars or flow lists/maps."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected key=value, e.g. optim.epochs=3")
    parts = key.strip().split(".")
    if any(not p for p in parts):
        raise ConfigError(f"override {text!r}: empty name in the dotted key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def _child(node, name: str, text: str, where: str):
    """The mapping or list under `name`, created as a mapping when absent."""
    if isinstance(node, list):
        if not name.lstrip("-").isdigit() or not -len(node) <= int(name) < len(node):
            raise ConfigError(f"override {text!r}: {where} has {len(node)} items; {name!r} is not an index")
        return node[int(name)]
    child = node.get(name)
    if child is None:
        child = node[name] = {}
    return child


def apply_overrides(config: dict, overrides: Iterable[str]) -> dict:
    """Return a copy of `config` with each `a.b.c=value` applied; missing mappings are created.

    A numeric part indexes a list: `features.ops.0.columns=[I1, I2]`.
    """
    result = copy.deepcopy(config) if config is not None else {}
    if not isinstance(result, dict):
        raise ConfigError("the config file must hold a mapping at the top level")
    for text in overrides:
        parts, value = parse_override(text)
        node = result
        for depth, name in enumerate(parts[:-1]):
            where = ".".join(parts[: depth + 1])
            node = _child(node, name, text, ".".join(parts[:depth]) or "the config")
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"override {text!r}: {where} is {node!r}, not a mapping")
        if isinstance(node, list):
            _child(node, parts[-1], text, ".".join(parts[:-1]))  # checks the index
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return result
