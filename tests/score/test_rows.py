"""Bad rows: which rows scoring sets aside and why, against a pandas reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from framework.score._rows import RowChecks, reject_reasons, scored_table, split_rows

CHECKS = RowChecks(non_nullable=("id", "w"), model_inputs=("x", "w", "k"))


def _table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    x[rng.random(rows) < 0.05] = np.inf
    x[rng.random(rows) < 0.05] = -np.inf
    x[rng.random(rows) < 0.05] = np.nan  # missing in a nullable column: a good row
    w = rng.normal(size=rows)
    w[rng.random(rows) < 0.03] = np.nan  # NaN where the contract says nullable: false
    ids = pa.array(np.arange(rows), mask=rng.random(rows) < 0.03)
    k = pa.array(rng.integers(0, 5, rows), mask=rng.random(rows) < 0.2)  # nulls allowed, never infinite
    return pa.table({"id": ids, "x": x, "w": w, "k": k})


def _reference(table: pa.Table) -> list:
    frame = table.to_pandas()
    reasons = []
    for row in frame.itertuples():
        if pd.isna(row.id):
            reasons.append("null in non-nullable column id")
        elif np.isnan(row.w):
            reasons.append("NaN in non-nullable column w")
        elif np.isinf(row.x):
            reasons.append("non-finite value in model input x")
        else:
            reasons.append(None)
    return reasons


def test_reasons_match_a_row_by_row_reference():
    table = _table(2_000, seed=3)
    expected = _reference(table)
    assert reject_reasons(table, CHECKS).to_pylist() == expected
    assert 200 < sum(r is not None for r in expected) < 600  # the data exercises every reason


def test_split_keeps_every_row_exactly_once_in_order():
    table = _table(1_000, seed=4)
    good, bad = split_rows(table, CHECKS)
    reasons = _reference(table)
    assert good.num_rows + bad.num_rows == table.num_rows
    good_ids = [i for i, r in zip(table["id"].to_pylist(), reasons) if r is None]
    assert good["id"].to_pylist() == good_ids
    assert bad["reason"].to_pylist() == [r for r in reasons if r is not None]
    assert bad.column_names == ["id", "x", "w", "k", "reason"]


def test_clean_rows_take_the_fast_path():
    table = pa.table({"id": [1, 2], "x": [0.5, np.nan], "w": [1.0, 2.0], "k": [None, 3]})
    assert reject_reasons(table, CHECKS) is None
    good, bad = split_rows(table, CHECKS)
    assert bad is None and good is table


def test_scored_table_layout():
    table = pa.table({"id": [7, 8], "label": pa.array([0, 1], pa.int8()), "x": [1.0, 2.0]})
    out = scored_table(table, np.array([0.25, 0.75]), ["id", "label"], "bundle-abc")
    assert out.column_names == ["id", "label", "score", "model_version"]
    assert out.schema.field("score").type == pa.float64() and out.schema.field("label").type == pa.int8()
    assert out.to_pydict() == {"id": [7, 8], "label": [0, 1], "score": [0.25, 0.75], "model_version": ["bundle-abc"] * 2}
