"""`data check`, `features fit` and `drift` on one partition of a hive-partitioned table: pointed at the
partition directory, at a glob inside it, or (drift) at the table root with `--where`. Each gives what
the whole table gives once filtered to that partition (pyarrow.compute on a whole-table read).

The commands that need Ray (train, score, nightly) are tested with the same layouts in
tests/train/test_cluster_fit.py, tests/score/test_partitions.py and tests/monitor/test_nightly.py."""

from __future__ import annotations

import argparse
import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from tests.scoring_fakes import generate, make_bundle

from framework.cli import data as data_cli
from framework.cli import drift as drift_cli
from framework.cli import features as features_cli
from framework.data import load_contract, read_table
from framework.features import FeaturePipeline
from framework.monitor import drift_for_table

DAY = "2026-01-02"


def _run(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raylane")
    module.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """`raylane data generate --days 3`: t/event_date=D/part-*.parquet and t/contract.yaml."""
    return generate(tmp_path_factory.mktemp("partitioned") / "t", rows=9_000, seed=4, days=3, start_date="2026-01-01")


def _one_day(table) -> pa.Table:
    whole = read_table(table, partition_types=load_contract(table / "contract.yaml").arrow_schema())
    return whole.filter(pc.equal(whole["event_date"], pa.scalar(dt.date(2026, 1, 2), pa.date32())))


def _sources(table) -> list[str]:
    return [str(table / f"event_date={DAY}"), str(table / f"event_date={DAY}" / "*.parquet")]


@pytest.mark.parametrize("which", [0, 1], ids=["directory", "glob"])
def test_data_check_passes_on_one_partition_and_counts_its_rows(table, which, capsys):
    assert _run(data_cli, ["data", "check", "--contract", str(table / "contract.yaml"), "--data", _sources(table)[which]]) == 0
    assert f"{_one_day(table).num_rows:,} rows match contract" in capsys.readouterr().out


def test_data_check_names_the_path_of_a_partition_value_that_is_not_a_date(table, tmp_path, capsys):
    bad = tmp_path / "event_date=someday"
    bad.mkdir()
    first = sorted((table / f"event_date={DAY}").glob("*.parquet"))[0]
    pq.write_table(pq.read_table(first), bad / "part-0.parquet")
    assert _run(data_cli, ["data", "check", "--contract", str(table / "contract.yaml"), "--data", str(bad)]) == 1
    assert "event_date=someday/part-0.parquet: column 'event_date': partition value 'someday' is not a valid date32" in capsys.readouterr().err


@pytest.fixture()
def regions(tmp_path):
    """r/region=R/batch=B/part-0.parquet, with a contract that types `batch` as int32."""
    rng = np.random.default_rng(0)
    for region in ("eu", "us"):
        for batch in (1, 2, 3):
            rows = 50 * batch + (7 if region == "us" else 0)
            directory = tmp_path / "r" / f"region={region}" / f"batch={batch}"
            directory.mkdir(parents=True)
            pq.write_table(pa.table({"x": rng.normal(batch, 1.0, rows), "c": rng.choice(["a", "b", "c"], rows)}),
                           directory / "part-0.parquet")
    contract = {"name": "regions", "columns": [{"name": "x", "type": "float64"}, {"name": "c", "type": "string"},
                                               {"name": "region", "type": "string"}, {"name": "batch", "type": "int32"}]}
    (tmp_path / "r" / "contract.yaml").write_text(yaml.safe_dump(contract))
    return tmp_path / "r"


@pytest.mark.parametrize("source", ["region=eu", "region=eu/*/*.parquet"], ids=["directory", "glob"])
def test_features_fit_on_one_partition_equals_a_fit_on_the_filtered_table(regions, source, tmp_path):
    """The pipeline reads the partition columns themselves: a missing or untyped `batch` would fail
    or fit another vocabulary."""
    ops = {"ops": [{"op": "normalize", "columns": ["x"]},
                   {"op": "categorify", "columns": ["c", "batch", "region"], "freq_threshold": 1}]}
    pipeline_file = tmp_path / "pipeline.yaml"
    pipeline_file.write_text(yaml.safe_dump(ops))
    argv = ["features", "fit", "--pipeline", str(pipeline_file), "--data", str(regions / source),
            "--contract", str(regions / "contract.yaml"), "--out", str(tmp_path / "artifact")]
    assert _run(features_cli, argv) == 0
    whole = read_table(regions, partition_types=load_contract(regions / "contract.yaml").arrow_schema())
    assert whole.schema.field("batch").type == pa.int32()
    eu = whole.filter(pc.equal(whole["region"], "eu"))
    reference = FeaturePipeline.from_yaml_dict(ops).fit(eu)
    fitted = FeaturePipeline.load(tmp_path / "artifact")
    assert fitted.rows_fitted_ == reference.rows_fitted_ == 300
    assert fitted.transform(whole).equals(reference.transform(whole))


@pytest.fixture(scope="module")
def bundle(table, tmp_path_factory):
    root = tmp_path_factory.mktemp("partitioned_bundle")
    train = generate(root / "train", rows=8_000, seed=1)
    return make_bundle(root / "bundle", train, profile_data=train, steps=20)


def test_drift_on_a_partition_a_glob_and_where_equals_the_filtered_table(table, bundle, tmp_path, capsys):
    from framework.models import load_bundle

    reference = drift_for_table(load_bundle(bundle), _one_day(table))
    reports = []
    for index, argv in enumerate([["--data", _sources(table)[0]], ["--data", _sources(table)[1]],
                                  ["--data", str(table), "--where", f"event_date={DAY}"]]):
        out = tmp_path / f"report{index}"
        assert _run(drift_cli, ["drift", "--model", str(bundle), *argv, "--out", str(out)]) == 0
        reports.append(json.loads((out / "drift.json").read_text()))
    for report in reports:
        assert report["rows"] == reference["rows"] == _one_day(table).num_rows
        for name, row in reference["features"].items():
            assert report["features"][name]["psi"] == pytest.approx(row["psi"], abs=1e-12), name
        assert report["prediction"]["psi"] == pytest.approx(reference["prediction"]["psi"], abs=1e-12)
    whole = drift_for_table(load_bundle(bundle), read_table(table, partition_types=load_contract(table / "contract.yaml").arrow_schema()))
    assert not np.isclose(whole["prediction"]["psi"], reference["prediction"]["psi"], atol=1e-9)  # where did select


def test_drift_where_refuses_a_key_that_is_not_a_partition(table, bundle):
    from framework.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\['I1'\]: not a partition key .*\['event_date'\]"):
        _run(drift_cli, ["drift", "--model", str(bundle), "--data", str(table), "--where", "I1=3"])
