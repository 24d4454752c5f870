"""A pipeline fit shows rows fitted (plain lines off a terminal, one display per pass) when an entry point
chose terminal output, and stays silent in library use."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from framework import console
from framework.features import FeaturePipeline

ONE_PASS = {"ops": [{"op": "fill_missing", "columns": ["x"]}, {"op": "categorify", "columns": ["s"]}]}
TWO_PASSES = {"ops": [{"op": "normalize", "columns": ["x"]}, {"op": "bucketize", "columns": ["x"], "quantiles": 4}]}


def _fit_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("[features] fit")]


def test_a_fit_on_parquet_shows_rows_against_the_footers_total(table, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(console.Console, "active", True)
    pq.write_table(table.slice(0, 300), tmp_path / "part-0.parquet")
    pq.write_table(table.slice(300), tmp_path / "part-1.parquet")
    FeaturePipeline.from_yaml_dict(ONE_PASS).fit(str(tmp_path))
    lines = _fit_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"[features] fit: {table.num_rows:,}/{table.num_rows:,} rows (")


def test_each_pass_over_the_data_is_named(table, capsys):
    FeaturePipeline.from_yaml_dict(TWO_PASSES).fit(table, progress=True)
    lines = _fit_lines(capsys.readouterr().err)
    assert [line.split(":")[0] for line in lines] == ["[features] fit, pass 1/2", "[features] fit, pass 2/2"]


def test_library_use_is_silent_unless_asked(table, capsys, monkeypatch):
    monkeypatch.setattr(console.Console, "active", False)
    FeaturePipeline.from_yaml_dict(ONE_PASS).fit(table)
    assert _fit_lines(capsys.readouterr().err) == []


@pytest.mark.ray
def test_a_ray_dataset_fit_learns_its_total_as_it_streams(ray_cluster, table, capsys):
    import ray

    dataset = ray.data.from_arrow([table.slice(0, 100), table.slice(100, 250), table.slice(350)])
    fitted = FeaturePipeline.from_yaml_dict(TWO_PASSES).fit(dataset, progress=True)
    lines = _fit_lines(capsys.readouterr().err)
    rows = f"{table.num_rows:,}/{table.num_rows:,} rows ("
    assert len(lines) == 2 and all(rows in line for line in lines), lines
    assert fitted.rows_fitted_ == table.num_rows
