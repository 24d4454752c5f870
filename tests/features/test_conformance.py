"""One conformance suite for every feature op (FEATURES.md): output equals the named reference,
computed here independently; fit is invariant to partitioning and row order; save/load round-trips.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.preprocessing import StandardScaler, TargetEncoder
from sklearn.utils import murmurhash3_32

from framework.features import OPS, FeaturePipeline


# -- independent references -----------------------------------------------------------------------
def _numeric(table, name) -> np.ndarray:
    return table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)


def _values(table, name) -> list:
    return table.column(name).to_pylist()


def _h(value, seed=0) -> int:
    raw = value.encode() if isinstance(value, str) else int(value).to_bytes(8, "little", signed=True)
    return murmurhash3_32(raw, seed=int(seed), positive=True)


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def _sort_key(value):
    return value.encode() if isinstance(value, str) else value


def ref_fill_missing(table):
    x = pd.Series(_numeric(table, "x"))
    return {"x": _f32(x.fillna(1.5)), "x_missing": x.isna().to_numpy().astype(np.int8), "i": _f32(pd.Series(_numeric(table, "i")).fillna(0.0))}


def ref_fill_median(table):
    x = _numeric(table, "x")
    return {"x": _f32(np.where(np.isnan(x), np.nanmedian(x), x))}


def ref_clip(table):
    return {"x": _f32(np.clip(_numeric(table, "x"), -1.0, 2.0)), "i": _f32(np.clip(_numeric(table, "i"), 0, None))}


def ref_log1p(table):
    x = _numeric(table, "x")
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"x": _f32(np.where(x <= -1, np.nan, np.log1p(x)))}


def ref_normalize(table):
    scaled = StandardScaler().fit_transform(_numeric(table, "x").reshape(-1, 1))[:, 0]
    i = _numeric(table, "i")
    return {"x": _f32(scaled), "i": _f32((i - np.nanmean(i)) / np.nanstd(i, ddof=1))}


def ref_min_max(table):
    x = _numeric(table, "x")
    return {"x": _f32((x - np.nanmin(x)) / (np.nanmax(x) - np.nanmin(x)))}


def _digitize(x, edges):
    return np.where(np.isnan(x), 0, np.digitize(x, edges) + 1).astype(np.int64)


def ref_bucketize_boundaries(table):
    return {"x": _digitize(_numeric(table, "x"), [-1.0, 0.0, 1.0])}


def ref_bucketize_quantiles(table):
    x = _numeric(table, "x")
    edges = np.unique(np.quantile(x[~np.isnan(x)], np.arange(1, 5) / 5, method="linear"))
    return {"x": _digitize(x, edges)}


def _categorify(values, freq_threshold=1, max_size=None, num_oov_buckets=1):
    counts = pd.Series([v for v in values if v is not None], dtype=object).value_counts()
    kept = sorted(((c, v) for v, c in counts.items() if c >= freq_threshold), key=lambda cv: (-cv[0], _sort_key(cv[1])))
    rank = {v: k for k, (_, v) in enumerate(kept[:max_size])}
    return np.array([
        0 if v is None else 1 + num_oov_buckets + rank[v] if v in rank else 1 + _h(v) % num_oov_buckets
        for v in values
    ], dtype=np.int64)


def ref_categorify(table):
    return {
        "s": _categorify(_values(table, "s"), freq_threshold=2, num_oov_buckets=3),
        "k": _categorify(_values(table, "k"), max_size=5, num_oov_buckets=2),
        "t": _categorify(_values(table, "t")),
    }


def ref_hash_bucket(table):
    return {c: np.array([0 if v is None else 1 + _h(v) % 97 for v in _values(table, c)]) for c in ("s", "k")}


def _cross(table, columns, buckets):
    out = []
    for row in zip(*(_values(table, c) for c in columns)):
        if any(v is None for v in row):
            out.append(0)
            continue
        seed = _h(row[0], 0)
        for value in row[1:]:
            seed = _h(value, seed)
        out.append(1 + seed % buckets)
    return np.array(out, dtype=np.int64)


def ref_hashed_cross(table):
    return {"s_x_k": _cross(table, ["s", "k"], 1000), "k_x_t_x_s": _cross(table, ["k", "t", "s"], 1000)}


def ref_target_encoding(table):
    y = _numeric(table, "label")
    out = {}
    for column in ("s", "k"):
        raw = np.array([np.nan if v is None else v for v in _values(table, column)], dtype=object).reshape(-1, 1)
        encoder = TargetEncoder(smooth=5.0, target_type="continuous").fit(raw, y)
        out[f"{column}_te"] = _f32(encoder.transform(raw)[:, 0])
    return out


def ref_count_encode(table):
    out = {}
    for column in ("s", "k"):
        # Missing is a value of its own: give it a label no real value has.
        series = pd.Series(_values(table, column), dtype=object).fillna("\0missing")
        counts = series.value_counts()
        out[f"{column}_count"] = series.map(counts).to_numpy().astype(np.int64)
    return out


CASES = {
    "fill_missing": ([{"op": "fill_missing", "columns": ["x"], "value": 1.5, "add_indicator": True},
                      {"op": "fill_missing", "columns": ["i"]}], ref_fill_missing),
    "fill_median": ([{"op": "fill_median", "columns": ["x"]}], ref_fill_median),
    "clip": ([{"op": "clip", "columns": ["x"], "lower": -1, "upper": 2}, {"op": "clip", "columns": ["i"], "lower": 0}], ref_clip),
    "log1p": ([{"op": "log1p", "columns": ["x"]}], ref_log1p),
    "normalize": ([{"op": "normalize", "columns": ["x"]}, {"op": "normalize", "columns": ["i"], "ddof": 1}], ref_normalize),
    "min_max": ([{"op": "min_max", "columns": ["x"]}], ref_min_max),
    "bucketize_boundaries": ([{"op": "bucketize", "columns": ["x"], "boundaries": [-1, 0, 1]}], ref_bucketize_boundaries),
    "bucketize_quantiles": ([{"op": "bucketize", "columns": ["x"], "quantiles": 5}], ref_bucketize_quantiles),
    "categorify": ([{"op": "categorify", "columns": ["s"], "freq_threshold": 2, "num_oov_buckets": 3},
                    {"op": "categorify", "columns": ["k"], "max_size": 5, "num_oov_buckets": 2},
                    {"op": "categorify", "columns": ["t"]}], ref_categorify),
    "hash_bucket": ([{"op": "hash_bucket", "columns": ["s", "k"], "num_buckets": 97}], ref_hash_bucket),
    "hashed_cross": ([{"op": "hashed_cross", "groups": [["s", "k"], ["k", "t", "s"]], "num_buckets": 1000}], ref_hashed_cross),
    "target_encoding": ([{"op": "target_encoding", "columns": ["s", "k"], "target": "label", "smoothing": 5}], ref_target_encoding),
    "count_encode": ([{"op": "count_encode", "columns": ["s", "k"]}], ref_count_encode),
}


def test_every_registered_op_has_a_case():
    covered = {op["op"] for ops, _ in CASES.values() for op in ops}
    assert covered == set(OPS)


def _pipeline(case: str) -> FeaturePipeline:
    return FeaturePipeline.from_yaml_dict({"passthrough": ["id"], "id_column": "id", "ops": CASES[case][0]})


def _assert_outputs_equal(result: pa.Table, expected: dict):
    for name, want in expected.items():
        got = result.column(name).to_numpy()
        assert got.dtype == want.dtype, name
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, equal_nan=True, err_msg=name)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)


def _state(pipeline: FeaturePipeline) -> list:
    return [op.state() for op in pipeline.ops]


def _assert_same_state(a, b):
    """Scalars equal up to float64 rounding (Chan merges), Arrow files exactly."""
    def close(x, y):
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for key in x:
                close(x[key], y[key])
        elif isinstance(x, list):
            assert len(x) == len(y)
            for u, v in zip(x, y):
                close(u, v)
        elif isinstance(x, float):
            assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12), (x, y)
        else:
            assert x == y

    for (scalars_a, tables_a), (scalars_b, tables_b) in zip(a, b):
        close(scalars_a, scalars_b)
        assert tables_a.keys() == tables_b.keys()
        for key in tables_a:
            assert tables_a[key].equals(tables_b[key]), key


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_matches_reference(case, table):
    result = _pipeline(case).fit(table).transform(table)
    _assert_outputs_equal(result, CASES[case][1](table))
    assert result.column("id").equals(table.column("id"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_on_seven_partitions_equals_fit_on_one(case, table, tmp_path, tables_match, monkeypatch):
    whole = _pipeline(case).fit(table)  # one batch
    bounds = [0, 1, 50, 51, 200, 333, 590, table.num_rows]
    for number, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        pq.write_table(table.slice(start, stop - start), tmp_path / f"part-{number}.parquet")
    # Small batches, so that files are both grouped and split: many partial statistics to merge.
    monkeypatch.setattr("framework.features._sources.BATCH_ROWS", 64)
    parts = _pipeline(case).fit(str(tmp_path / "*.parquet"))
    _assert_same_state(_state(whole), _state(parts))
    tables_match(parts.transform(table), whole.transform(table), exact=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_row_order_does_not_matter(case, table, tables_match):
    order = np.random.default_rng(3).permutation(table.num_rows)
    shuffled = table.take(order)
    fitted = _pipeline(case).fit(table)
    refitted = _pipeline(case).fit(shuffled)
    _assert_same_state(_state(fitted), _state(refitted))
    tables_match(refitted.transform(shuffled), fitted.transform(table).take(order), exact=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_save_load_round_trip(case, table, tmp_path, tables_match):
    fitted = _pipeline(case).fit(table)
    fitted.save(tmp_path / "artifact")
    loaded = FeaturePipeline.load(tmp_path / "artifact")
    assert loaded.to_yaml_dict() == fitted.to_yaml_dict()
    assert loaded.output_schema == fitted.output_schema
    tables_match(loaded.transform(table), fitted.transform(table))
