"""Fitting on a ray.data.Dataset: per-block statistics in Ray tasks, merged exactly on the driver."""

from __future__ import annotations

import pyarrow as pa
import pytest

from framework.features import FeaturePipeline

from tests.features.test_conformance import CASES, _assert_same_state, _state

pytestmark = pytest.mark.ray

OPS = [op for name in ("fill_median", "normalize", "bucketize_quantiles", "categorify", "target_encoding", "count_encode") for op in CASES[name][0]]


def test_ray_dataset_fit_equals_local_fit(ray_cluster, table, tables_match):
    import ray

    mapping = {"passthrough": ["id"], "id_column": "id", "ops": OPS}
    dataset = ray.data.from_arrow([table.slice(0, 100), table.slice(100, 250), table.slice(350)])
    distributed = FeaturePipeline.from_yaml_dict(mapping).fit(dataset)
    local = FeaturePipeline.from_yaml_dict(mapping).fit(table)
    _assert_same_state(_state(local), _state(distributed))
    tables_match(distributed.transform(table), local.transform(table), exact=False)

    training = FeaturePipeline.from_yaml_dict(mapping).fit_transform(dataset)
    combined = pa.concat_tables(ray.get(training.to_arrow_refs())).sort_by("id")
    expected = FeaturePipeline.from_yaml_dict(mapping).fit_transform(table).sort_by("id")
    tables_match(combined, expected, exact=False)
