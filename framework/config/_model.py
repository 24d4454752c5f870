"""The base for every config model, and the one translation of pydantic errors."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from framework.errors import ConfigError


def _partition_filter(value):
    from framework.data.parquet_io import parse_where

    return parse_where(value, "where")


# A filter on hive partition keys: a mapping ({event_date: 2026-01-04}, YAML dates and numbers taken
# as the text they were written as) or KEY=VALUE strings, as `--where` gives them.
PartitionFilter = Annotated[dict[str, str], BeforeValidator(_partition_filter)]


class StrictModel(BaseModel):
    """Config sections forbid unknown keys, so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown field (value {error['input']!r}); check the spelling"
    if kind == "missing":
        return f"{where}: required field is missing"
    message = error["msg"]
    ctx = error.get("ctx") or {}
    if kind == "literal_error" and "expected" in ctx:
        message = f"expected one of {ctx['expected']}"
    return f"{where}: got {error['input']!r}; {message[0].lower() + message[1:]}"


def format_validation_error(error: ValidationError, source: str) -> ConfigError:
    lines = [_describe(e) for e in error.errors(include_url=False)]
    return ConfigError(f"{source}: invalid config\n  " + "\n  ".join(lines))


def validate_model(model: type[BaseModel], data: Any, source: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise format_validation_error(error, source) from None
