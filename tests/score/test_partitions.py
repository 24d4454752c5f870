"""Scoring one partition of a hive-partitioned table: the partition directory, a glob inside it, and
`raylane score --where` on the table root all commit the rows of that partition and nothing else, with
the scores BundleScorer gives the whole table filtered to it (pyarrow.compute)."""

from __future__ import annotations

import argparse
import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.score.conftest import store_as_float
from tests.scoring_fakes import generate

from framework.cli import score as score_cli
from framework.data import load_contract, read_table
from framework.errors import ConfigError
from framework.score import BundleScorer, read_committed, run_scoring

pytestmark = [pytest.mark.ray, pytest.mark.slow]

DAY = "2026-03-02"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    root = generate(tmp_path_factory.mktemp("partitioned_scoring") / "events", rows=6_000, seed=8, days=3,
                    start_date="2026-03-01", files_per_day=2)
    store_as_float(root)
    return root


@pytest.fixture(scope="module")
def expected(world, table):
    whole = read_table(table, partition_types=load_contract(table / "contract.yaml").arrow_schema())
    day = whole.filter(pc.equal(whole["event_date"], pa.scalar(dt.date(2026, 3, 2), pa.date32())))
    day = day.take(pc.sort_indices(day["id"]))
    assert 0 < day.num_rows < whole.num_rows
    return day, BundleScorer(world.bundle).score(day)


def _check(run_dir, expected) -> None:
    day, scores = expected
    scored = read_committed(run_dir)
    scored = scored.take(pc.sort_indices(scored["id"]))
    np.testing.assert_array_equal(scored["id"].to_numpy(), day["id"].to_numpy())
    assert set(scored["event_date"].to_pylist()) == {dt.date(2026, 3, 2)}
    np.testing.assert_allclose(scored["score"].to_numpy(), scores, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("source", [f"event_date={DAY}", f"event_date={DAY}/*.parquet"], ids=["directory", "glob"])
def test_scoring_one_partition_by_path(world, table, expected, source, ray_cluster, tmp_path):
    result = run_scoring(world.config(tmp_path / "scores", input=str(table / source), run_date=DAY))
    _check(result.run_dir, expected)


def test_scoring_with_where_on_the_table_root(world, table, expected, ray_cluster, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="raylane")
    score_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["score", "--model", str(world.bundle), "--input", str(table), "--where", f"event_date={DAY}",
                              "--output", str(tmp_path / "scores"), "--run-date", DAY, "--passthrough", "event_date"])
    assert args.func(args) == 0
    run_dir = re.search(r"^run: (.+)$", capsys.readouterr().out, re.M).group(1)
    _check(run_dir, expected)


def test_where_names_only_partition_keys(world, table, ray_cluster, tmp_path):
    with pytest.raises(ConfigError, match=r"\['C1'\]: not a partition key .*\['event_date'\]"):
        run_scoring(world.config(tmp_path / "scores", input=str(table), where=["C1=x"], run_date=DAY))
    assert not (tmp_path / "scores").exists()
