"""Bad rows go to _rejected/ with a reason; above max_reject_fraction nothing is published."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from framework.cli import main as cli_main
from framework.data import list_parquet_files
from framework.score import RejectLimitError, read_committed, run_scoring, verify_run

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _poison(path: str, column: str, rows: np.ndarray, value) -> list[int]:
    """Set `column` to `value` (None: null) in the given rows; returns the ids of those rows."""
    table = pq.read_table(path)
    ids = table["id"].to_numpy()[rows].tolist()
    values = table[column].to_pylist()
    for row in rows:
        values[row] = value
    index = table.schema.get_field_index(column)
    pq.write_table(table.set_column(index, column, pa.array(values, table.schema.field(column).type)), path)
    return ids


@pytest.fixture()
def poisoned_day(world, tmp_path):
    day = tmp_path / "day"
    shutil.copytree(world.day, day)
    files = list_parquet_files(day).paths
    rng = np.random.default_rng(11)
    chosen = rng.choice(5_000, 50, replace=False)
    bad = {
        "non-finite value in model input I1": _poison(files[0], "I1", chosen[:30], float("inf"))
        + _poison(files[5], "I1", chosen[30:40], float("-inf")),
    }
    # Null ids are known only by position: count them; the surviving ids show which rows they were.
    null_rows = chosen[40:]
    _poison(files[2], "id", null_rows, None)
    bad["null in non-nullable column id"] = len(null_rows)
    return day, bad


def test_above_the_limit_nothing_is_published_then_a_higher_limit_publishes(world, ray_cluster, poisoned_day, tmp_path, capsys):
    day, bad = poisoned_day
    output = tmp_path / "scores"
    source = pq.read_table(list_parquet_files(day).paths)  # ids after poisoning
    with pytest.raises(RejectLimitError, match=r"50 of 40,000 rows rejected \(0.1250%\), above max_reject_fraction 0.001"):
        run_scoring(world.config(output, input=str(day)))
    assert not (output / "run_date=2026-02-01").exists()
    capsys.readouterr()  # forget the first run's log lines

    # The same run with a higher limit, from the command line, publishes from the staging ledger
    # without scoring again (no task is left for the actor pool).
    status = cli_main(["score", "--model", str(world.bundle), "--input", str(day), "--output", str(output),
                       "--run-date", "2026-02-01", "--passthrough", "event_date,label", "--max-reject-fraction", "0.01",
                       "--batch-rows", "1024", "--predict-batch-rows", "512"])
    out = capsys.readouterr().out
    assert status == 0 and "8 already scored" in out and "scoring 8 task(s)" not in out
    run_dir = output / "run_date=2026-02-01"
    assert f"run: {run_dir}" in out and verify_run(run_dir).ok
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["rows"] == {"in": 40_000, "scored": 39_950, "rejected": 50}

    rejected = read_committed(run_dir, rejected=True)
    reasons = Counter(rejected["reason"].to_pylist())
    inf_ids = bad["non-finite value in model input I1"]
    assert reasons == {"non-finite value in model input I1": len(inf_ids), "null in non-nullable column id": 10}
    assert sorted(rejected.filter(pc.is_valid(rejected["id"]))["id"].to_pylist()) == sorted(inf_ids)
    with_id = rejected.filter(pc.is_valid(rejected["id"]))
    assert np.isinf(with_id["I1"].to_numpy()).all()

    scored_ids = read_committed(run_dir, columns=["id"])["id"]
    expected = set(pc.drop_null(source["id"]).to_pylist()) - set(inf_ids)
    assert len(scored_ids) == len(expected) == pc.count_distinct(scored_ids).as_py()
    assert set(scored_ids.to_pylist()) == expected
