"""Bad and awkward input: every error names the column or file and says what was expected."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from framework.errors import ArtifactError, DataError
from framework.features import FeaturePipeline
from framework.features._columns import ColumnFrame

INT64 = np.iinfo(np.int64)


def _pipeline(*ops, **options) -> FeaturePipeline:
    return FeaturePipeline.from_yaml_dict({"ops": list(ops), **options})


def test_column_missing_at_transform_is_named(table):
    pipeline = _pipeline({"op": "log1p", "columns": ["x"]}, {"op": "categorify", "columns": ["s"]}).fit(table)
    with pytest.raises(DataError, match=r"\['s'\].*missing"):
        pipeline.transform(table.drop_columns(["s"]))


def test_column_missing_at_fit_is_named(table):
    with pytest.raises(DataError, match="nope"):
        _pipeline({"op": "log1p", "columns": ["nope"]}).fit(table)


def test_passthrough_missing_at_transform_is_named(table):
    pipeline = _pipeline({"op": "log1p", "columns": ["x"]}, passthrough=["label"]).fit(table)
    with pytest.raises(DataError, match="label"):
        pipeline.transform(table.drop_columns(["label"]))


@pytest.mark.parametrize("op", ["categorify", "hash_bucket", "count_encode"])
def test_categorical_ops_refuse_float_columns(op, table):
    extra = {"num_buckets": 10} if op == "hash_bucket" else {}
    with pytest.raises(DataError, match="'x'.*integer or string.*double"):
        _pipeline({"op": op, "columns": ["x"], **extra}).fit(table).transform(table)


def test_categorical_op_refuses_a_column_an_earlier_op_made_float(table):
    with pytest.raises(DataError, match="'i'.*float32"):
        _pipeline({"op": "log1p", "columns": ["i"]}, {"op": "categorify", "columns": ["i"]}).fit(table)


def test_type_change_between_fit_and_transform_is_named(table):
    pipeline = _pipeline({"op": "categorify", "columns": ["k"]}).fit(table)
    changed = table.set_column(table.schema.get_field_index("k"), "k", table.column("k").cast(pa.string()))
    with pytest.raises(DataError, match="'k'.*int64.*string"):
        pipeline.transform(changed)


def test_infinity_under_error_policy_names_column_and_count():
    table = pa.table({"x": [1.0, np.inf, -np.inf, None, 2.0]})
    with pytest.raises(DataError, match="'x': 2 rows hold \\+inf or -inf"):
        _pipeline({"op": "normalize", "columns": ["x"]}).fit(table)


def test_infinity_under_missing_policy_is_missing():
    table = pa.table({"x": [1.0, np.inf, -np.inf, None, 3.0]})
    pipeline = _pipeline({"op": "fill_median", "columns": ["x"], "add_indicator": True}, nonfinite="missing").fit(table)
    result = pipeline.transform(table)
    assert pipeline.ops[0].medians_["x"] == 2.0
    assert result.column("x").to_pylist() == [1.0, 2.0, 2.0, 2.0, 3.0]
    assert result.column("x_missing").to_pylist() == [0, 1, 1, 1, 0]


def test_infinity_at_transform_is_also_refused():
    pipeline = _pipeline({"op": "log1p", "columns": ["x"]}).fit(pa.table({"x": [1.0]}))
    with pytest.raises(DataError, match="'x': 1 rows"):
        pipeline.transform(pa.table({"x": [np.inf]}))


def test_empty_table_cannot_be_fitted_but_can_be_transformed(table):
    empty = table.slice(0, 0)
    with pytest.raises(DataError, match="no rows"):
        _pipeline({"op": "normalize", "columns": ["x"]}).fit(empty)
    pipeline = _pipeline({"op": "normalize", "columns": ["x"]}, {"op": "categorify", "columns": ["s"]}).fit(table)
    result = pipeline.transform(empty)
    assert result.num_rows == 0 and result.column_names == ["x", "s"]


def test_all_null_columns_give_defined_results():
    """Documented: no values at fit → mean 0 / std 1, median 0, min = max = 0, no edges, empty vocabulary."""
    table = pa.table({"x": pa.array([None, None], type=pa.float64()), "n": pa.nulls(2), "c": pa.array([None, None], pa.string()), "y": [0, 1]})
    ops = [
        {"op": "target_encoding", "columns": ["c"], "target": "y", "smoothing": 1},
        {"op": "fill_median", "columns": ["n"]},
        {"op": "normalize", "columns": ["x"]},
        {"op": "bucketize", "columns": ["x"], "quantiles": 3},
        {"op": "categorify", "columns": ["c"]},
    ]
    pipeline = _pipeline(*ops).fit(table)
    result = pipeline.transform(pa.table({"x": [5.0, None], "n": [None, 1.0], "c": ["a", None], "y": [1, 1]}))
    assert result.column("n").to_pylist() == [0.0, 1.0]
    assert result.column("x").to_pylist() == [1, 0]  # one bucket for any value; 0 = missing
    assert result.column("c").to_pylist() == [1, 0]  # out of vocabulary; missing
    assert result.column("c_te").to_pylist() == pytest.approx([0.5, 0.5])
    assert pipeline.ops[2].mean_ == {"x": 0.0} and pipeline.ops[2].std_ == {"x": 0.0}


def test_min_max_with_all_null_fit_maps_values_to_zero():
    pipeline = _pipeline({"op": "min_max", "columns": ["x"]}).fit(pa.table({"x": pa.array([None], pa.float64())}))
    assert pipeline.transform(pa.table({"x": [3.0, None]})).column("x").to_pylist()[0] == 0.0


def test_unicode_empty_strings_and_int64_extremes():
    table = pa.table({
        "s": ["", "☃", "", "日本", None, "☃", ""],
        "k": pa.array([INT64.min, INT64.max, INT64.min, 0, None, -1, INT64.max]),
        "v": pa.array([INT64.min, INT64.max, 0, 1, -1, None, 5]),
    })
    ops = [{"op": "min_max", "columns": ["v"]}, {"op": "categorify", "columns": ["s", "k"]}, {"op": "count_encode", "columns": ["s"]}]
    pipeline = _pipeline(*ops).fit(table)
    result = pipeline.transform(table)
    # Vocabulary by count desc then value asc: "" (3), "☃" (2), "日本" (1); ints: min (2), max (2), -1, 0.
    assert result.column("s").to_pylist() == [2, 3, 2, 4, 0, 3, 2]
    assert result.column("k").to_pylist() == [2, 3, 2, 5, 0, 4, 3]
    assert result.column("s_count").to_pylist() == [3, 2, 3, 1, 1, 2, 3]
    assert result.column("v").to_pylist()[:2] == [0.0, 1.0]


def test_missing_target_is_named():
    table = pa.table({"c": [1, 2], "y": [1.0, None]})
    with pytest.raises(DataError, match="'y': 1 rows have no target"):
        _pipeline({"op": "target_encoding", "columns": ["c"], "target": "y"}).fit(table)


def test_string_values_against_integer_vocabulary_are_named(table):
    pipeline = _pipeline({"op": "categorify", "columns": ["k"]}).fit(table)
    with pytest.raises(DataError, match="'k'"):
        pipeline.ops[0].transform(ColumnFrame(pa.table({"k": ["1"]})))


@pytest.mark.parametrize("target", ["arrow", "manifest-sha", "version"])
def test_tampered_artifact_is_refused_naming_the_file(target, table, tmp_path):
    pipeline = _pipeline({"op": "categorify", "columns": ["s"]}, {"op": "normalize", "columns": ["x"]}).fit(table)
    pipeline.save(tmp_path / "artifact")
    manifest_path = tmp_path / "artifact" / "pipeline.json"
    manifest = json.loads(manifest_path.read_text())
    arrow_file = next(iter(manifest["files"]))
    if target == "arrow":
        with open(tmp_path / "artifact" / arrow_file, "r+b") as handle:
            handle.seek(-20, 2)
            handle.write(b"\x00" * 4)
        expected = arrow_file
    elif target == "manifest-sha":
        manifest["files"][arrow_file] = "0" * 64
        manifest_path.write_text(json.dumps(manifest))
        expected = arrow_file
    else:
        manifest["format_version"] = 99
        manifest_path.write_text(json.dumps(manifest))
        expected = "pipeline.json.*version 99"
    with pytest.raises(ArtifactError, match=expected):
        FeaturePipeline.load(tmp_path / "artifact")


def test_missing_artifact_file_is_named(table, tmp_path):
    pipeline = _pipeline({"op": "categorify", "columns": ["s"]}).fit(table)
    pipeline.save(tmp_path / "artifact")
    victim = next((tmp_path / "artifact").glob("*.arrow"))
    victim.unlink()
    with pytest.raises(ArtifactError, match=victim.name):
        FeaturePipeline.load(tmp_path / "artifact")
    with pytest.raises(ArtifactError, match="pipeline.json"):
        FeaturePipeline.load(tmp_path / "nowhere")


def test_save_refuses_to_overwrite_a_foreign_directory(table, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    pipeline = _pipeline({"op": "log1p", "columns": ["x"]}).fit(table)
    with pytest.raises(ArtifactError, match="refusing"):
        pipeline.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").exists()
    pipeline.save(tmp_path / "artifact")
    pipeline.save(tmp_path / "artifact")  # an old artifact is replaced


def test_transform_before_fit_is_a_clear_error(table):
    with pytest.raises(Exception, match="fit"):
        _pipeline({"op": "log1p", "columns": ["x"]}).transform(table)


def test_partition_with_an_all_null_column_of_type_null_merges(tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"c": pa.nulls(3)}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"c": ["x", "y", "x"]}), tmp_path / "b.parquet")
    pipeline = _pipeline({"op": "count_encode", "columns": ["c"]}, {"op": "categorify", "columns": ["c"]})
    pipeline.fit(str(tmp_path / "*.parquet"))
    assert pipeline.ops[1].vocabulary_["c"].to_pylist() == [b"x", b"y"]
    result = pipeline.transform(pa.table({"c": ["x", None]}))
    assert result.column("c_count").to_pylist() == [2, 3]
    assert result.column("c").to_pylist() == [2, 0]
    assert pipeline.transform(pa.table({"c": pa.nulls(2)})).column("c").to_pylist() == [0, 0]


def test_fit_on_a_null_typed_column_accepts_any_kind_later():
    pipeline = _pipeline({"op": "categorify", "columns": ["c"], "num_oov_buckets": 3}).fit(pa.table({"c": pa.nulls(2)}))
    assert pipeline.transform(pa.table({"c": ["a", None]})).column("c").to_pylist()[1] == 0
    assert pipeline.transform(pa.table({"c": [5, None]})).column("c").to_pylist()[1] == 0
