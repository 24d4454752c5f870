"""The one registry of feature ops by YAML name, and the conversions op ↔ validated spec.

Example:
    >>> op = op_from_mapping({"op": "clip", "columns": ["I1"], "lower": 0})
    >>> op
    Clip(columns=['I1'], lower=0.0, upper=None)
    >>> op_to_mapping(op)["op"]
    'clip'
"""

from __future__ import annotations

from framework.config._model import validate_model
from framework.features._base import FeatureOp
from framework.features._categorical import Bucketize, Categorify, HashBucket, HashedCross
from framework.features._continuous import Clip, FillMedian, FillMissing, Log1p, MinMax, Normalize
from framework.features._count_encode import CountEncode
from framework.features._target_encoding import TargetEncoding
from framework.features._spec import PipelineSpec

__all__ = ["OPS", "op_from_mapping", "op_to_mapping", "validate_ops"]

OPS: dict[str, type[FeatureOp]] = {
    cls.op_name: cls
    for cls in (
        FillMissing, FillMedian, Clip, Log1p, Normalize, MinMax,
        Bucketize, Categorify, HashBucket, HashedCross, TargetEncoding, CountEncode,
    )
}


def op_from_spec(spec) -> FeatureOp:
    fields = spec.model_dump()
    return OPS[fields.pop("op")](**fields)


def op_from_mapping(mapping: dict, source: str = "op") -> FeatureOp:
    """Build one op from its YAML mapping (ConfigError when invalid)."""
    spec = validate_model(PipelineSpec, {"ops": [mapping]}, source).ops[0]
    return op_from_spec(spec)


def op_to_mapping(op: FeatureOp) -> dict:
    return {"op": op.op_name, **op.params()}


def validate_ops(ops: list[FeatureOp], source: str = "FeaturePipeline") -> list[FeatureOp]:
    """Check ops built in Python against the same rules as the YAML form; returns normalized ops."""
    mappings = [op_to_mapping(op) for op in ops]
    spec = validate_model(PipelineSpec, {"ops": mappings}, source)
    return [op_from_spec(s) for s in spec.ops]
