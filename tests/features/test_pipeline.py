"""Pipeline semantics: op order, naming, passthrough, fit stages, out-of-fold TE, schema, tensors, YAML."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from framework.errors import ConfigError
from framework.features import FeaturePipeline, Log1p, Normalize
from framework.features._plan import fit_stages
from framework.features._registry import op_from_mapping

CRITEO_LIKE = {
    "nonfinite": "error",
    "passthrough": ["id", "label"],
    "id_column": "id",
    "ops": [
        {"op": "fill_missing", "columns": ["x", "i"], "value": 0},
        {"op": "clip", "columns": ["x", "i"], "lower": 0},
        {"op": "log1p", "columns": ["x", "i"]},
        {"op": "normalize", "columns": ["x", "i"]},
        {"op": "target_encoding", "columns": ["s"], "target": "label", "smoothing": 20},
        {"op": "hashed_cross", "groups": [["s", "k"]], "num_buckets": 10000},
        {"op": "categorify", "columns": ["s", "k", "t"], "freq_threshold": 2, "num_oov_buckets": 4},
    ],
}


def test_contract_example_runs_and_names_outputs(table):
    result = FeaturePipeline.from_yaml_dict(CRITEO_LIKE).fit(table).transform(table)
    assert result.column_names == ["id", "label", "x", "i", "s_te", "s_x_k", "s", "k", "t"]
    assert result.num_rows == table.num_rows
    assert result.schema.field("x").type == pa.float32()
    assert result.schema.field("s").type == pa.int64()
    assert result.column("label").equals(table.column("label"))


def test_later_ops_fit_on_earlier_outputs(table):
    """normalize after log1p is fitted on log1p'd values (not the raw ones)."""
    pipeline = FeaturePipeline([Log1p(["i"]), Normalize(["i"])]).fit(table)
    raw = table.column("i").cast(pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        logged = np.where(raw <= -1, np.nan, np.log1p(raw)).astype(np.float32).astype(np.float64)
    assert pipeline.ops[1].mean_["i"] == pytest.approx(np.nanmean(logged), rel=1e-12)


def test_second_stage_fits_through_the_fitted_first_stage(table):
    ops = [{"op": "normalize", "columns": ["x"]}, {"op": "bucketize", "columns": ["x"], "quantiles": 4}]
    pipeline = FeaturePipeline.from_yaml_dict({"ops": ops})
    assert fit_stages(pipeline.ops) == [[0], [1]]
    pipeline.fit(table)
    normalized = FeaturePipeline.from_yaml_dict({"ops": ops[:1]}).fit(table).transform(table).column("x").to_numpy()
    normalized = normalized.astype(np.float64)
    expected = np.unique(np.quantile(normalized[~np.isnan(normalized)], [0.25, 0.5, 0.75]))
    np.testing.assert_array_equal(pipeline.ops[1].edges_["x"], expected)


def test_target_encoding_before_categorify_reads_raw_values(table):
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE).fit(table)
    te = pipeline.ops[4]
    assert not isinstance(te.stats_["s"].keys, np.ndarray)  # fitted on the raw strings


def test_output_schema_sizes_embeddings(table):
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE).fit(table)
    schema = pipeline.output_schema
    assert schema.continuous == ["x", "i", "s_te"]
    assert list(schema.categorical) == ["s_x_k", "s", "k", "t"]
    assert schema.categorical["s_x_k"] == 10001
    result = pipeline.transform(table)
    for name, cardinality in schema.categorical.items():
        assert 0 <= result.column(name).to_numpy().min() and result.column(name).to_numpy().max() < cardinality
    assert schema.categorical["s"] == 1 + 4 + len(pipeline.ops[6].vocabulary_["s"])


def test_fit_transform_is_out_of_fold(table):
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE)
    training = pipeline.fit_transform(table)
    plain = pipeline.transform(table)
    assert not np.allclose(training.column("s_te").to_numpy(), plain.column("s_te").to_numpy())
    # Recompute one row by hand: statistics of the other folds only.
    from sklearn.utils import murmurhash3_32

    ids = table.column("id").to_numpy()
    folds = np.array([murmurhash3_32(int(v).to_bytes(8, "little", signed=True), seed=0, positive=True) % 5 for v in ids])
    y = table.column("label").to_numpy().astype(np.float64)
    s = np.array(table.column("s").to_pylist(), dtype=object)
    row = 10
    other = folds != folds[row]
    same = other & (s == s[row]) if s[row] is not None else other & np.array([v is None for v in s])
    mean = y[other].mean()
    expected = (y[same].sum() + 20 * mean) / (same.sum() + 20)
    assert training.column("s_te").to_numpy()[row] == pytest.approx(expected, rel=1e-6)
    # Everything except target encoding is the same as a plain transform.
    for name in ("x", "i", "s", "k", "t", "s_x_k"):
        assert training.column(name).equals(plain.column(name))


def test_fit_transform_needs_id_column(table):
    mapping = {**CRITEO_LIKE, "id_column": None}
    with pytest.raises(ConfigError, match="id_column"):
        FeaturePipeline.from_yaml_dict(mapping).fit_transform(table)


def test_transform_to_tensors_follows_output_schema(table):
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE).fit(table)
    tensors = pipeline.transform_to_tensors(table)
    result = pipeline.transform(table)
    assert tensors["continuous"].dtype == torch.float32 and tensors["continuous"].shape == (table.num_rows, 3)
    assert tensors["categorical"].dtype == torch.int64 and tensors["categorical"].shape == (table.num_rows, 4)
    np.testing.assert_array_equal(tensors["categorical"][:, 1].cpu().numpy(), result.column("s").to_numpy())  # CUDA on a GPU
    np.testing.assert_array_equal(tensors["continuous"][:, 2].cpu().numpy(), result.column("s_te").to_numpy())
    assert torch.equal(tensors["label"].cpu(), torch.from_numpy(table.column("label").to_numpy().copy()))


def test_indicator_sees_missing_at_its_position_in_the_chain():
    table = pa.table({"x": [-2.0, 1.0, None]})
    ops = [{"op": "log1p", "columns": ["x"]}, {"op": "fill_missing", "columns": ["x"], "value": 7, "add_indicator": True}]
    result = FeaturePipeline.from_yaml_dict({"ops": ops}).fit(table).transform(table)
    assert result.column("x_missing").to_pylist() == [1, 0, 1]
    assert result.column("x").to_pylist() == pytest.approx([7.0, np.log1p(1.0), 7.0])


def test_unwritten_raw_columns_are_left_out(table):
    result = FeaturePipeline.from_yaml_dict({"ops": [{"op": "log1p", "columns": ["x"]}]}).fit(table).transform(table)
    assert result.column_names == ["x"]


def test_yaml_round_trip_and_python_construction_agree():
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE)
    again = FeaturePipeline.from_yaml_dict(pipeline.to_yaml_dict())
    assert again.to_yaml_dict() == pipeline.to_yaml_dict()
    assert op_from_mapping({"op": "clip", "columns": ["x"], "lower": 0}).params() == {"columns": ["x"], "lower": 0.0, "upper": None}


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"ops": []}, "ops"),
        ({"ops": [{"op": "normalise", "columns": ["x"]}]}, "ops.0.*normalise"),
        ({"ops": [{"op": "clip", "columns": ["x"], "lower": 2, "upper": 1}]}, "ops.0.clip.*lower"),
        ({"ops": [{"op": "bucketize", "columns": ["x"]}]}, "ops.0.bucketize.*exactly one"),
        ({"ops": [{"op": "categorify", "columns": ["x"], "num_oov_buckets": 0}]}, "ops.0.categorify.num_oov_buckets"),
        ({"ops": [{"op": "hash_bucket", "columns": ["x"]}]}, "ops.0.hash_bucket.num_buckets.*missing"),
        ({"ops": [{"op": "log1p", "columns": ["x"], "colour": 1}]}, "ops.0.log1p.colour.*unknown"),
        ({"nonfinite": "ignore", "ops": [{"op": "log1p", "columns": ["x"]}]}, "nonfinite"),
        ({"passthrough": ["x"], "ops": [{"op": "log1p", "columns": ["x"]}]}, "passthrough"),
        ({"ops": [{"op": "hashed_cross", "groups": [["a"]], "num_buckets": 3}]}, "ops.0.hashed_cross.groups"),
    ],
)
def test_config_errors_name_the_op_and_field(mapping, message):
    with pytest.raises(ConfigError, match=message):
        FeaturePipeline.from_yaml_dict(mapping)


def test_python_built_ops_are_validated_at_fit(table):
    with pytest.raises(ConfigError, match="ddof"):
        FeaturePipeline([Normalize(["x"], ddof=-1)]).fit(table)


def test_scoring_data_needs_no_target_column(table):
    mapping = {"ops": [{"op": "target_encoding", "columns": ["s"], "target": "label"}]}
    pipeline = FeaturePipeline.from_yaml_dict(mapping).fit(table)
    scored = pipeline.transform(table.drop_columns(["label"]))
    assert scored.column("s_te").equals(pipeline.transform(table).column("s_te"))


def test_loaded_artifact_encodes_training_rows_out_of_fold(table, tmp_path, tables_match):
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE)
    training = pipeline.fit_transform(table)
    pipeline.save(tmp_path / "artifact")
    loaded = FeaturePipeline.load(tmp_path / "artifact")
    tables_match(loaded.transform(table, out_of_fold=True), training)
    tables_match(loaded.transform(table), pipeline.transform(table))
    with pytest.raises(Exception, match="'id'"):
        loaded.transform(table.drop_columns(["id"]), out_of_fold=True)


def test_transform_to_arrays_matches_transform(table):
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE).fit(table)
    arrays = pipeline.transform_to_arrays(table, out_of_fold=True)
    training = pipeline.transform(table, out_of_fold=True)
    assert arrays["continuous"].shape == (table.num_rows, 3) and arrays["continuous"].dtype == np.float32
    np.testing.assert_array_equal(arrays["continuous"][:, 2], training.column("s_te").to_numpy())
    np.testing.assert_array_equal(arrays["categorical"][:, 0], training.column("s_x_k").to_numpy())


def test_input_columns_before_fit():
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE)
    assert pipeline.input_columns() == ["x", "i", "s", "label", "k", "t", "id"]


def test_one_row_at_a_time_equals_the_whole_batch(table, tables_match):
    """Online serving transforms one row; batch scoring many: the same row gives the same features."""
    pipeline = FeaturePipeline.from_yaml_dict(CRITEO_LIKE).fit(table)
    whole = pipeline.transform(table)
    for row in (0, 1, 2, 77, table.num_rows - 1):
        tables_match(pipeline.transform(table.slice(row, 1)), whole.slice(row, 1))
