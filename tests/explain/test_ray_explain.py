"""`raylane explain` on Ray Data: the sample read by Ray tasks, the permutations scored in Ray Data
actors, the numbers equal to those training put in the bundle; by registry reference and by path."""

from __future__ import annotations

import json

import pytest
from tests.explain.conftest import SETTINGS

from framework.cli import build_parser
from framework.data import list_parquet_files, read_table
from framework.explain import CHART_FILE, EXPLAIN_FILE, explain_model
from framework.monitor.check import seeded_sample

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _numbers(explanation: dict) -> list[tuple]:
    return [(r["column"], r["importance"], r["std"], r["logloss_importance"], r["inputs"]) for r in explanation["columns"]]


def test_ray_reads_the_seeded_sample(ray_cluster, world):
    from framework.explain._sample import read_sample

    files = list_parquet_files(world.valid)
    columns = ["I1", "C1", "label", "event_date"]
    for rows in (700, 10_000):
        assert read_sample(files, columns, rows, seed=4).equals(seeded_sample(read_table(files, columns=columns), rows, 4))


def test_explain_on_ray_equals_the_bundles_own(ray_cluster, world):
    stored = json.loads((world.bundle / EXPLAIN_FILE).read_text())
    explanation = explain_model(world.bundle, world.valid, SETTINGS, where=["event_date=2026-01-02"])  # its one day
    assert _numbers(explanation) == _numbers(stored)
    assert explanation["baseline"] == stored["baseline"] and explanation["rows"] == stored["rows"] == SETTINGS.max_rows
    assert explanation["model"]["name"] == "scoring-fake"  # a bundle directory: named by its lineage


def test_the_command_on_a_registered_model(ray_cluster, world, tmp_path, capsys):
    from framework.registry import register_trained_bundle

    registered = register_trained_bundle("explain-ctr", world.bundle)
    args = build_parser().parse_args(["explain", "--model", "explain-ctr@candidate", "--data", str(world.valid),
                                      "--out", str(tmp_path / "out"), "--repeats", str(SETTINGS.repeats),
                                      "--max-rows", str(SETTINGS.max_rows), "--seed", str(SETTINGS.seed), "--actors", "1"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    written = json.loads((tmp_path / "out" / EXPLAIN_FILE).read_text())
    assert (tmp_path / "out" / CHART_FILE).is_file()
    assert _numbers(written) == _numbers(json.loads((world.bundle / EXPLAIN_FILE).read_text()))
    assert written["model"] == {"name": "explain-ctr", "version": registered.version}
    top = written["columns"][0]
    assert printed.splitlines()[1].split()[:2] == [top["column"], f"{top['importance']:.5f}"]
    assert f"model: explain-ctr {registered.version}" in printed
