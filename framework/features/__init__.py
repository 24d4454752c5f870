"""Feature transforms: ops with exactly mergeable fit statistics, a pipeline, a pickle-free artifact.

The behaviour of every op is specified in FEATURES.md; the kernels they call are in `kernels/`.

Example:
    >>> from framework.features import FeaturePipeline
    >>> pipeline = FeaturePipeline.from_yaml_dict({"ops": [{"op": "log1p", "columns": ["I1"]}]})
    >>> pipeline.to_yaml_dict()["ops"]
    [{'op': 'log1p', 'columns': ['I1']}]
"""

from framework.features._base import CATEGORICAL, CONTINUOUS, FeatureOp, OutputField
from framework.features._categorical import Bucketize, Categorify, HashBucket, HashedCross
from framework.features._continuous import Clip, FillMedian, FillMissing, Log1p, MinMax, Normalize
from framework.features._count_encode import CountEncode
from framework.features._target_encoding import TargetEncoding
from framework.features._outputs import OutputSchema
from framework.features._pipeline import FeaturePipeline
from framework.features._registry import OPS, op_from_mapping
from framework.features._spec import PipelineSpec, parse_pipeline_spec
from framework.features.suggest import ColumnChoice, Suggestion, suggest_features

__all__ = [
    "FeaturePipeline", "OutputSchema", "OutputField", "FeatureOp", "OPS", "PipelineSpec",
    "parse_pipeline_spec", "op_from_mapping", "CONTINUOUS", "CATEGORICAL",
    "FillMissing", "FillMedian", "Clip", "Log1p", "Normalize", "MinMax",
    "Bucketize", "Categorify", "HashBucket", "HashedCross", "TargetEncoding", "CountEncode",
    "suggest_features", "Suggestion", "ColumnChoice",
]
