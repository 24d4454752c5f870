"""`features suggest`: the ops chosen per column against statistics computed here with NumPy/pandas,
roles that must get no ops, the commented YAML (quoting, round trip) and a fit of the suggestion."""

from __future__ import annotations

import argparse
import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from framework.cli import features as features_cli
from framework.data.contract import ColumnSpec, Contract, load_contract, save_contract
from framework.data.generate import GenerateRequest, write_synthetic_dataset
from framework.data.parquet_io import list_parquet_files, read_table
from framework.errors import ConfigError, DataError
from framework.features import FeaturePipeline, suggest_features
from framework.features import suggest as rules
from framework.features._suggest_stats import DistinctSketch
from framework.features.suggest import yaml_scalar

ROWS = 4000
PARTITION = "région"  # a hive key, typed by the contract
HEAVY, SIGNED, UNIFORM, POISSON = "visits-count", "température °C", "score 0–100", "n articles"
CITY, PRODUCT, STORE, TOKEN = "ville", "produit", "store_id", "session token"
NUMERIC = (HEAVY, SIGNED, UNIFORM, POISSON)
CATEGORICAL = (CITY, PRODUCT, STORE, TOKEN, PARTITION)
ROLES = {"id": "id", "label": "label", "user email": "pii", "p-true": "ignore", "event_date": "passthrough"}


def _columns(rng: np.random.Generator) -> dict[str, pa.Array]:
    def with_nulls(values, share):
        return pa.array(values, mask=rng.random(ROWS) < share)

    signed = rng.normal(5.0, 8.0, ROWS)
    signed[rng.random(ROWS) < 0.03] = np.nan
    signed[[7, 11]] = np.inf
    cities = np.array([f"ville-{i}" for i in range(30)] + [f"rare-{i}" for i in range(120)])
    weights = np.r_[np.full(30, 30.0) / np.arange(1, 31), np.full(120, 0.02)]
    codes = rng.integers(0, 2**32, 150)
    return {
        "id": pa.array(np.arange(ROWS)),
        "label": pa.array(rng.integers(0, 2, ROWS).astype(np.int8)),
        HEAVY: with_nulls(np.floor(rng.pareto(1.2, ROWS) * 3).astype(np.int64), 0.1),
        SIGNED: with_nulls(signed, 0.02),
        UNIFORM: pa.array(rng.uniform(0, 100, ROWS)),
        POISSON: pa.array(rng.poisson(3, ROWS)),
        CITY: with_nulls(rng.choice(cities, ROWS, p=weights / weights.sum()), 0.05),
        PRODUCT: pa.array(codes[np.minimum(rng.zipf(1.5, ROWS), 150) - 1]),
        STORE: pa.array(rng.integers(1, 41, ROWS)),
        TOKEN: pa.array([f"{v:06x}" for v in rng.integers(0, 6000, ROWS)]),  # about 73% of rows distinct
        "flag": pa.array(rng.random(ROWS) < 0.3),
        "signup day": pa.array(rng.integers(18000, 19000, ROWS).astype("int32"), pa.int32()).cast(pa.date32()),
        "user email": pa.array([f"u{i}@example.com" for i in range(ROWS)]),
        "p-true": pa.array(rng.random(ROWS)),
        "event_date": pa.array([datetime.date(2026, 1, 1)] * ROWS, pa.date32()),
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Hive-partitioned Parquet (two files per partition), its contract and the same rows as pandas."""
    root = tmp_path_factory.mktemp("suggest") / "data"
    table = pa.table(_columns(np.random.default_rng(7)))
    regions = np.where(np.arange(ROWS) % 3 == 0, "nord", "sud")
    for region in ("nord", "sud"):
        rows = table.filter(pa.array(regions == region))
        (root / f"{PARTITION}={region}").mkdir(parents=True)
        half = rows.num_rows // 2
        pq.write_table(rows.slice(0, half), root / f"{PARTITION}={region}" / "part-0.parquet", row_group_size=500)
        pq.write_table(rows.slice(half), root / f"{PARTITION}={region}" / "part-1.parquet")
    columns = [ColumnSpec(name=f.name, type="date32" if f.type == pa.date32() else str(f.type),
                          role=ROLES.get(f.name, "feature")) for f in table.schema]
    contract = Contract(name="shop", columns=[*columns, ColumnSpec(name=PARTITION, type="string")])
    save_contract(contract, root.parent / "contract.yaml")
    frame = read_table(root, partition_types=contract.arrow_schema()).to_pandas()
    return root, contract, frame


@pytest.fixture(scope="module")
def suggestion(dataset):
    root, contract, _ = dataset
    return suggest_features(root, contract)


def _skew(x: np.ndarray) -> float:
    centred = x - x.mean()
    return float(np.mean(centred**3) / np.mean(centred**2) ** 1.5)


def _neighbour_share(values: np.ndarray) -> float:
    present = set(values.tolist())
    return float(np.mean([(v - 1 in present) or (v + 1 in present) for v in values.tolist()]))


def _expected_numeric(series: pd.Series) -> dict:
    x = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = x[np.isfinite(x)]
    p50, p99 = np.quantile(finite, [0.5, 0.99])
    heavy_tail = _skew(finite) > rules.HEAVY_SKEW or (p50 > 0 and p99 / p50 > rules.HEAVY_TAIL_RATIO)
    return {"kind": "numeric", "log": bool(heavy_tail and finite.min() >= 0), "indicator": bool((~np.isfinite(x)).any())}


def _expected_categorical(series: pd.Series) -> dict:
    counts = series.dropna().value_counts()
    present = int(counts.sum())
    if len(counts) > rules.HASH_DISTINCT or len(counts) > rules.HASH_DISTINCT_SHARE * present:
        wanted = 1 << max(0, 2 * int((counts >= 2).sum()) - 1).bit_length()
        return {"kind": "hashed", "num_buckets": int(np.clip(wanted, *rules.HASH_BUCKETS))}
    fitting = [t for t in rules.FREQ_THRESHOLDS if counts[counts < t].sum() / present <= rules.MAX_OOV_SHARE]
    return {"kind": "categorical", "freq_threshold": fitting[-1] if fitting else rules.FREQ_THRESHOLDS[0]}


def test_the_table_exercises_every_rule(dataset):
    frame = dataset[2]
    assert _expected_numeric(frame[HEAVY])["log"] and not _expected_numeric(frame[SIGNED])["log"]
    assert not _expected_numeric(frame[UNIFORM])["indicator"]
    assert _neighbour_share(frame[PRODUCT].to_numpy()) < rules.ID_NEIGHBOUR_SHARE
    assert _neighbour_share(frame[POISSON].to_numpy()) >= rules.ID_NEIGHBOUR_SHARE
    assert _neighbour_share(frame[STORE].to_numpy()) >= rules.ID_NEIGHBOUR_SHARE  # only its name makes it an id
    assert _expected_categorical(frame[TOKEN])["kind"] == "hashed"
    assert 2 < _expected_categorical(frame[CITY])["freq_threshold"] < 100


@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_ops_follow_the_statistics(suggestion, dataset, name):
    choice = suggestion.choice(name)
    assert {"kind": choice.kind, "log": choice.log, "indicator": choice.indicator} == _expected_numeric(dataset[2][name])


@pytest.mark.parametrize("name", CATEGORICAL)
def test_categorical_ops_follow_the_statistics(suggestion, dataset, name):
    choice = suggestion.choice(name)
    expected = _expected_categorical(dataset[2][name])
    assert {k: getattr(choice, k) for k in expected} == expected


def test_integer_codes_by_neighbour_share_or_name(suggestion):
    assert "codes" in suggestion.choice(PRODUCT).comment
    assert "name ends in 'id'" in suggestion.choice(STORE).comment
    assert "a quantity" in suggestion.choice(POISSON).comment


def test_roles_get_no_ops(suggestion):
    mapping = suggestion.mapping
    read = {c for op in FeaturePipeline.from_yaml_dict(mapping).ops for c in op.fit_reads()}
    assert read == set(NUMERIC) | set(CATEGORICAL)
    assert mapping["passthrough"] == ["id", "label", "event_date"] and mapping["id_column"] == "id"
    assert {c.name: c.tag for c in suggestion.choices if c.kind == "skipped"} == {
        "flag": "bool", "signup day": "date32[day]", "user email": "pii", "p-true": "ignore"}
    assert mapping["nonfinite"] == "missing"  # two +inf in the signed column


def test_yaml_round_trips_with_a_comment_per_choice(suggestion):
    text = suggestion.yaml_text
    assert yaml.safe_load(text)["features"] == suggestion.mapping
    lines = text.splitlines()
    for choice in suggestion.choices:
        assert sum(line.strip().startswith(f"# {yaml_scalar(choice.name)}: ") for line in lines) == 1, choice.name
    ops = lines[lines.index("  ops:") + 1:]
    assert all(line.lstrip().startswith("# ") or (line.lstrip().startswith("- {op: ") and "  # " in line) for line in ops)
    assert '"température °C"' in text and '"session token"' in text  # readable, not \u-escaped


@pytest.mark.parametrize("name", ["true", "null", "yes", "on", "y", "N", "~", "1", "", " lead", "a: b", "#x", "- x", "[x]", "x,y",
                                  "q\"uote", "back\\slash", "tab\there", "line\nbreak", "sep\u2028x", "\ufeffbom",
                                  "emoji 😀", "é", "I-1"])
def test_yaml_scalar_reads_back_exactly(name):
    assert yaml.safe_load(f"k: {yaml_scalar(name)}\nl: [{yaml_scalar(name)}, x]") == {"k": name, "l": [name, "x"]}


def test_suggested_pipeline_fits_and_transforms(suggestion, dataset):
    root, contract, _ = dataset
    pipeline = FeaturePipeline.from_yaml_dict(yaml.safe_load(suggestion.yaml_text)["features"])
    pipeline.fit(list_parquet_files(root, partition_types=contract.arrow_schema()))
    out = pipeline.transform(read_table(root, partition_types=contract.arrow_schema()))
    assert out.num_rows == ROWS and out.column_names[:3] == ["id", "label", "event_date"]
    for name in pipeline.output_schema.continuous:
        assert not np.isnan(out[name].to_numpy()).any(), name
    assert f"{HEAVY}_missing" in out.column_names and f"{UNIFORM}_missing" not in out.column_names
    assert set(pipeline.output_schema.categorical) == set(CATEGORICAL)


def test_repeatable_and_independent_of_file_layout(suggestion, dataset, tmp_path):
    root, contract, frame = dataset
    assert suggest_features(root, contract).yaml_text == suggestion.yaml_text
    table = read_table(root, partition_types=contract.arrow_schema())
    for region in ("nord", "sud"):  # one file per partition instead of two
        (tmp_path / f"{PARTITION}={region}").mkdir()
        rows = table.filter(pc.equal(table[PARTITION], region)).drop_columns([PARTITION])
        pq.write_table(rows, tmp_path / f"{PARTITION}={region}" / "all.parquet")
    assert suggest_features(tmp_path, contract).mapping == suggestion.mapping
    sampled = suggest_features(root, contract, sample_rows=1500, seed=5)  # the sample is now a real subset
    assert "1,500 rows (seed 5)" in sampled.yaml_text
    assert [(c.kind, c.log) for c in sampled.choices] == [(c.kind, c.log) for c in suggestion.choices]


def test_label_from_the_training_config_is_passthrough(dataset):
    root, contract, _ = dataset
    mapping = suggest_features(root, contract, label=UNIFORM).mapping
    assert UNIFORM in mapping["passthrough"]
    assert not any(UNIFORM in op.fit_reads() for op in FeaturePipeline.from_yaml_dict(mapping).ops)
    with pytest.raises(ConfigError, match="not a column"):
        suggest_features(root, contract, label="nope")


def test_distinct_above_the_limit_is_hashed(dataset, monkeypatch):
    root, contract, frame = dataset
    monkeypatch.setattr(rules, "HASH_DISTINCT", frame[CITY].nunique() - 1)
    assert suggest_features(root, contract).choice(CITY).kind == "hashed"


def test_sketch_is_exact_below_capacity_and_close_above():
    rng = np.random.default_rng(1)
    values = rng.zipf(1.3, 200_000) % 50_000
    exact = pd.Series(values).value_counts()
    small, large = DistinctSketch(capacity=100_000), DistinctSketch(capacity=2048)
    for part in np.array_split(values, 7):
        small.add(pa.array(part))
        large.add(pa.array(part))
    assert small.exact and small.distinct() == len(exact)
    assert small.rare_share(5, len(values)) == exact[exact < 5].sum() / len(values)
    assert large.distinct() == pytest.approx(len(exact), rel=0.1)
    assert large.rare_share(5, len(values)) == pytest.approx(exact[exact < 5].sum() / len(values), rel=0.15)


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raylane")
    features_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_writes_refuses_to_overwrite_and_fit_reads_it(dataset, tmp_path, capsys):
    root, _, _ = dataset
    contract_file, out = str(root.parent / "contract.yaml"), tmp_path / "pipeline.yaml"
    argv = ["features", "suggest", "--data", str(root), "--contract", contract_file, "--out", str(out)]
    assert _cli(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "4 numeric (1 with log1p), 4 categorical, 1 hashed; skipped 4" in printed
    with pytest.raises(ConfigError, match="--force"):
        _cli(argv)
    assert _cli([*argv, "--force"]) == 0
    assert _cli(["features", "fit", "--pipeline", str(out), "--data", str(root), "--contract", contract_file,
                 "--out", str(tmp_path / "artifact")]) == 0
    assert f"fitted on {ROWS:,} rows" in capsys.readouterr().out


def test_uninformative_columns_are_skipped_and_no_feature_is_an_error(tmp_path):
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "const": [5, 5, 5, None], "empty": pa.array([None] * 4, pa.float64()),
                      "inf": [np.inf, -np.inf, np.inf, None], "y": pa.array([0, 1, 0, 1], pa.int8())})
    pq.write_table(table, tmp_path / "part.parquet")
    types = {"x": "double", "const": "int64", "empty": "double", "inf": "double", "y": "int8"}
    contract = Contract(columns=[ColumnSpec(name=n, type=t, role="label" if n == "y" else "feature") for n, t in types.items()])
    suggestion = suggest_features(tmp_path, contract)
    assert {c.name: c.tag for c in suggestion.choices if c.kind == "skipped"} == {
        "const": "constant", "empty": "all missing", "inf": "all missing"}
    assert suggestion.mapping["nonfinite"] == "error"  # the only infinities are in a skipped column
    only_label = Contract(columns=[ColumnSpec(name="y", type="int8", role="label"), ColumnSpec(name="empty", type="double")])
    with pytest.raises(DataError, match="no column of role feature can be a feature"):
        suggest_features(tmp_path, only_label.model_copy(update={"extra_columns": "ignore"}))


def test_where_keeps_one_partition(dataset):
    root, contract, frame = dataset
    suggestion = suggest_features(root, contract, where={PARTITION: "nord"})
    assert suggestion.rows == int((frame[PARTITION] == "nord").sum())
    assert suggestion.choice(PARTITION).kind == "skipped"  # a single value once filtered


def test_synthetic_data_gets_counts_and_codes(tmp_path):
    write_synthetic_dataset(tmp_path / "train", GenerateRequest(rows=5000, seed=3), workers=1)
    contract = load_contract(tmp_path / "train" / "contract.yaml")
    suggestion = suggest_features(tmp_path / "train", contract)
    kinds = {c.name: c.kind for c in suggestion.choices}
    assert all(kinds[f"I{i}"] == "numeric" for i in range(1, 14))
    assert all(kinds[f"C{i}"] in ("categorical", "hashed") for i in range(1, 27))
    assert suggestion.mapping["passthrough"] == ["id", "label", "event_date"]
    files = list_parquet_files(tmp_path / "train", partition_types=contract.arrow_schema())
    assert FeaturePipeline.from_yaml_dict(suggestion.mapping).fit(files).rows_fitted_ == 5000
