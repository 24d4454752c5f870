"""Typed job configs: one YAML file plus `key=value` overrides, validated by pydantic.

Example:
    >>> from framework.config import load_config
    >>> cfg = load_config("jobs/configs/demo.yaml", ["data.rows=5000"])
"""

from framework.config._kinds import CONFIG_KINDS, detect_kind, load_config, validate_mapping
from framework.config._loader import apply_overrides, read_yaml
from framework.config._model import PartitionFilter, StrictModel

__all__ = [
    "CONFIG_KINDS",
    "PartitionFilter",
    "StrictModel",
    "apply_overrides",
    "detect_kind",
    "load_config",
    "read_yaml",
    "validate_mapping",
]
