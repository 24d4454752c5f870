"""`raylane features fit|transform` through its own argparse registration."""

from __future__ import annotations

import argparse

import pyarrow.parquet as pq
import pytest
import yaml

from framework.cli import features as features_cli
from framework.errors import ConfigError, DataError
from framework.features import FeaturePipeline


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raylane")
    features_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def data_dir(table, tmp_path):
    directory = tmp_path / "data"
    directory.mkdir()
    pq.write_table(table.slice(0, 300), directory / "part-0.parquet")
    pq.write_table(table.slice(300), directory / "part-1.parquet")
    return directory


def test_fit_then_transform_writes_parquet_and_summary(data_dir, tmp_path, table, capsys, tables_match):
    pipeline_file = tmp_path / "features.yaml"
    spec = {"passthrough": ["id"], "ops": [{"op": "log1p", "columns": ["x"]}, {"op": "categorify", "columns": ["s"]}]}
    pipeline_file.write_text(yaml.safe_dump({"features": spec}))
    assert _run(["features", "fit", "--pipeline", str(pipeline_file), "--data", str(data_dir / "*.parquet"), "--out", str(tmp_path / "art")]) == 0
    captured = capsys.readouterr()
    assert "fitted on 600 rows" in captured.out
    assert captured.err.startswith("[features] fit: 600/600 rows (")  # not a terminal: a plain progress line
    out = tmp_path / "out"
    assert _run(["features", "transform", "--artifact", str(tmp_path / "art"), "--data", str(data_dir), "--out", str(out)]) == 0
    assert "transformed 600 rows" in capsys.readouterr().out
    assert (out / "_SUCCESS").exists()
    written = pq.read_table(sorted(out.glob("*.parquet")))
    tables_match(written, FeaturePipeline.load(tmp_path / "art").transform(table))
    # A second run replaces its own earlier output.
    assert _run(["features", "transform", "--artifact", str(tmp_path / "art"), "--data", str(data_dir), "--out", str(out)]) == 0


def test_transform_refuses_a_foreign_output_directory(data_dir, tmp_path, table):
    FeaturePipeline.from_yaml_dict({"ops": [{"op": "log1p", "columns": ["x"]}]}).fit(table).save(tmp_path / "art")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("x")
    with pytest.raises(DataError, match="choose another --out"):
        _run(["features", "transform", "--artifact", str(tmp_path / "art"), "--data", str(data_dir), "--out", str(tmp_path / "out")])


def test_bad_pipeline_file_is_a_config_error(data_dir, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ops:\n  - {op: log1p}\n")
    with pytest.raises(ConfigError, match="ops.0.log1p.columns"):
        _run(["features", "fit", "--pipeline", str(bad), "--data", str(data_dir), "--out", str(tmp_path / "art")])


@pytest.mark.parametrize("action", ["fit", "transform"])
def test_help(action, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run(["features", action, "--help"])
    assert exit_info.value.code == 0
    assert "--data" in capsys.readouterr().out
