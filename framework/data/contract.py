"""Dataset contracts: each column's Arrow type, nullability and role, in YAML.

Example contract file:
    name: criteo_synth
    extra_columns: error          # or: ignore
    columns:
      - {name: id, type: int64, nullable: false, role: id}
      - {name: label, type: int8, nullable: false, role: label}
      - {name: C2, type: string, role: feature}

Example:
    >>> contract = load_contract("data/contract.yaml")
    >>> contract.column("label").role
    'label'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import field_validator, model_validator

from framework.config import StrictModel, read_yaml
from framework.config._loader import write_yaml
from framework.config._model import validate_model
from framework.errors import ConfigError

__all__ = ["ColumnSpec", "Contract", "load_contract", "save_contract", "parse_arrow_type", "ROLES"]

ROLES = ("id", "label", "feature", "passthrough", "pii", "ignore")

_SIMPLE_TYPES = {
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float": pa.float32(),
    "float64": pa.float64(),
    "double": pa.float64(),
    "string": pa.string(),
    "utf8": pa.string(),
    "large_string": pa.large_string(),
    "binary": pa.binary(),
    "large_binary": pa.large_binary(),
    "date32": pa.date32(),
    "date32[day]": pa.date32(),
    "date64": pa.date64(),
}
_TIMESTAMP_UNITS = ("s", "ms", "us", "ns")


def parse_arrow_type(text: str) -> pa.DataType:
    """`int64`, `string`, `date32`, `timestamp[us]`, `timestamp[us, tz=UTC]` → an Arrow type."""
    name = text.strip().lower()
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if name.startswith("timestamp[") and name.endswith("]"):
        unit, _, tz = name[len("timestamp[") : -1].partition(",")
        tz = tz.strip().removeprefix("tz=") or None
        if unit.strip() in _TIMESTAMP_UNITS:
            return pa.timestamp(unit.strip(), tz=tz)
    allowed = ", ".join(sorted(_SIMPLE_TYPES)) + ", timestamp[s|ms|us|ns]"
    raise ValueError(f"unknown Arrow type {text!r}; expected one of: {allowed}")


def type_name(data_type: pa.DataType) -> str:
    """The name a contract uses for an Arrow type (the inverse of parse_arrow_type)."""
    return "date32" if data_type == pa.date32() else str(data_type)


class ColumnSpec(StrictModel):
    """One column: its name, Arrow type, whether nulls are allowed, and its role."""

    name: str
    type: str
    nullable: bool = True
    role: Literal["id", "label", "feature", "passthrough", "pii", "ignore"] = "feature"

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        parse_arrow_type(value)
        return value

    @property
    def arrow_type(self) -> pa.DataType:
        return parse_arrow_type(self.type)


class Contract(StrictModel):
    """A dataset contract. `extra_columns` says what to do with columns it does not name."""

    name: str = "dataset"
    version: int = 1
    extra_columns: Literal["error", "ignore"] = "error"
    columns: list[ColumnSpec]

    @model_validator(mode="after")
    def _consistent(self) -> "Contract":
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"columns named more than once: {duplicates}")
        for role in ("id", "label"):
            holders = [c.name for c in self.columns if c.role == role]
            if len(holders) > 1:
                raise ValueError(f"at most one column may have role {role!r}; found {holders}")
        return self

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def names(self, role: str | None = None) -> list[str]:
        return [c.name for c in self.columns if role is None or c.role == role]

    def role_of(self, role: str) -> str | None:
        names = self.names(role)
        return names[0] if names else None

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])


def load_contract(path: str | Path) -> Contract:
    """Read and validate a contract YAML file; errors name the file and the field."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a contract must be a mapping with a 'columns' list")
    return validate_model(Contract, data, str(path))


def save_contract(contract: Contract, path: str | Path) -> None:
    write_yaml(contract.model_dump(mode="json"), path)
