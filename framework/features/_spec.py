"""The YAML form of a feature pipeline (the `features:` section of a config), validated by pydantic.

Every op mapping has an `op` key naming it plus that op's parameters, exactly as in FEATURES.md.
Errors become ConfigError naming the op's index and field, and saying what is allowed.

Example:
    >>> spec = parse_pipeline_spec({"ops": [{"op": "log1p", "columns": ["I1"]}]})
    >>> spec.ops[0].op, spec.nonfinite
    ('log1p', 'error')
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from framework.config import StrictModel
from framework.config._model import validate_model

__all__ = ["PipelineSpec", "OpSpec", "OP_SPECS", "parse_pipeline_spec"]

_MAX_BUCKETS = 2**32  # h(v) is an unsigned 32-bit hash
Columns = Annotated[list[str], Field(min_length=1)]


class _ColumnsSpec(StrictModel):
    columns: Columns

    @field_validator("columns")
    @classmethod
    def _distinct(cls, columns: list[str]) -> list[str]:
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"each column may appear once; repeated: {repeated}")
        return columns


class FillMissingSpec(_ColumnsSpec):
    op: Literal["fill_missing"]
    value: float = 0.0
    add_indicator: bool = False

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class FillMedianSpec(_ColumnsSpec):
    op: Literal["fill_median"]
    add_indicator: bool = False


class ClipSpec(_ColumnsSpec):
    op: Literal["clip"]
    lower: float | None = None
    upper: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "ClipSpec":
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower ({self.lower}) must not exceed upper ({self.upper})")
        return self


class Log1pSpec(_ColumnsSpec):
    op: Literal["log1p"]


class NormalizeSpec(_ColumnsSpec):
    op: Literal["normalize"]
    ddof: int = Field(0, ge=0)


class MinMaxSpec(_ColumnsSpec):
    op: Literal["min_max"]


class BucketizeSpec(_ColumnsSpec):
    op: Literal["bucketize"]
    boundaries: list[float] | None = None
    quantiles: int | None = Field(None, ge=2)

    @model_validator(mode="after")
    def _one_source_of_edges(self) -> "BucketizeSpec":
        if (self.boundaries is None) == (self.quantiles is None):
            raise ValueError("give exactly one of boundaries (a list of edges) or quantiles (an integer >= 2)")
        edges = self.boundaries or []
        if any(not math.isfinite(e) for e in edges) or any(a >= b for a, b in zip(edges, edges[1:])):
            raise ValueError(f"boundaries must be finite and strictly increasing, got {edges}")
        return self


class CategorifySpec(_ColumnsSpec):
    op: Literal["categorify"]
    freq_threshold: int = Field(1, ge=1)
    max_size: int | None = Field(None, ge=1)
    num_oov_buckets: int = Field(1, ge=1, le=_MAX_BUCKETS)


class HashBucketSpec(_ColumnsSpec):
    op: Literal["hash_bucket"]
    num_buckets: int = Field(ge=1, le=_MAX_BUCKETS)
    salt_env: str | None = Field(
        None, pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="environment variable holding a secret salt; the only way a pii column may be a feature",
    )


class HashedCrossSpec(StrictModel):
    op: Literal["hashed_cross"]
    groups: Annotated[list[Annotated[list[str], Field(min_length=2)]], Field(min_length=1)]
    num_buckets: int = Field(ge=1, le=_MAX_BUCKETS)


class TargetEncodingSpec(_ColumnsSpec):
    op: Literal["target_encoding"]
    target: str
    smoothing: float = Field(20.0, ge=0.0, allow_inf_nan=False)
    kfold: int = Field(5, ge=2)
    fold_seed: int = Field(0, ge=0, lt=2**32)


class CountEncodeSpec(_ColumnsSpec):
    op: Literal["count_encode"]


OP_SPECS = (
    FillMissingSpec, FillMedianSpec, ClipSpec, Log1pSpec, NormalizeSpec, MinMaxSpec, BucketizeSpec,
    CategorifySpec, HashBucketSpec, HashedCrossSpec, TargetEncodingSpec, CountEncodeSpec,
)
OpSpec = Annotated[Union[OP_SPECS], Field(discriminator="op")]


class PipelineSpec(StrictModel):
    """The whole `features:` mapping."""

    nonfinite: Literal["error", "missing"] = "error"
    passthrough: list[str] = Field(default_factory=list)
    id_column: str | None = None
    ops: Annotated[list[OpSpec], Field(min_length=1)]


def parse_pipeline_spec(mapping, source: str = "features") -> PipelineSpec:
    """Validate a YAML mapping; raises ConfigError naming the op index and field."""
    return validate_model(PipelineSpec, mapping, source)
