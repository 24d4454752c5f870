"""Small hand-built tables for the feature tests, and a table comparison (the one place these live)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

INT64 = np.iinfo(np.int64)
WORDS = ["", "a", "b", "héllo", "☃", "日本語", "zz", "Ab", "b ", "🙂🙂"]


def make_table(rows: int = 600, seed: int = 0) -> pa.Table:
    """Mixed columns with nulls, NaN, heavy tails, negatives, unicode, empty strings, int64 extremes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_cauchy(rows) * 3
    x[rng.random(rows) < 0.1] = np.nan
    x[:3] = [-1.0, -0.5, 1e12]
    x_null = rng.random(rows) < 0.05
    i = rng.integers(-50, 1000, size=rows)
    k = rng.zipf(1.5, size=rows).astype(np.int64) % 40 - 5
    k[:4] = [INT64.min, INT64.max, INT64.min, 0]
    s_codes = np.minimum(rng.zipf(1.3, size=rows) - 1, len(WORDS) - 1)
    s = [WORDS[c] for c in s_codes]
    s_null = rng.random(rows) < 0.07
    y = (rng.random(rows) < 0.3).astype(np.int8)
    return pa.table({
        "id": pa.array(rng.permutation(rows * 3)[:rows].astype(np.int64)),
        "label": pa.array(y),
        "x": pa.array(x, mask=x_null),
        "i": pa.array(i, mask=rng.random(rows) < 0.05),
        "k": pa.array(k, mask=rng.random(rows) < 0.05),
        "s": pa.array(s, mask=s_null, type=pa.string()),
        "t": pa.array([WORDS[(c * 3 + 1) % len(WORDS)] for c in s_codes], type=pa.large_string()),
    })




def assert_tables_match(got: pa.Table, want: pa.Table, exact: bool = True) -> None:
    """Same columns, types and values; NaN equals NaN. Floats within 1e-6 unless `exact`."""
    assert got.schema.names == want.schema.names
    for name in want.column_names:
        assert got.column(name).type == want.column(name).type, name
        a = got.column(name).to_numpy(zero_copy_only=False)
        b = want.column(name).to_numpy(zero_copy_only=False)
        if a.dtype.kind == "f" and not exact:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True, err_msg=name)
        elif a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert got.column(name).equals(want.column(name)), name

