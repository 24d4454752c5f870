"""The generator: determinism, schema, planted ground truth, drift."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from framework.data import check_dataset, read_table
from framework.data.generate import GenerateRequest, synthetic_contract, write_synthetic_dataset
from framework.data._synthetic_spec import hidden_model
from framework.data.synthetic import BLOCK_ROWS, generate_rows, generate_table, synthetic_schema
from framework.errors import DataError


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_files(tmp_path):
    request = GenerateRequest(rows=30_000, seed=7, days=2, files_per_day=3)
    first = _digest(Path(write_synthetic_dataset(tmp_path / "a", request).out))
    # a rerun into the same directory replaces it with the same content
    write_synthetic_dataset(tmp_path / "a", request)
    assert _digest(tmp_path / "a") == first
    assert _digest(Path(write_synthetic_dataset(tmp_path / "b", request).out)) == first


def test_rows_do_not_depend_on_the_file_split(tmp_path):
    rows = BLOCK_ROWS + 12_345  # spans a block boundary at an odd place
    few = write_synthetic_dataset(tmp_path / "few", GenerateRequest(rows=rows, seed=3, files_per_day=1))
    many = write_synthetic_dataset(tmp_path / "many", GenerateRequest(rows=rows, seed=3, files_per_day=7))
    assert few.files == 1 and many.files == 7
    left = read_table(few.out).sort_by("id")
    right = read_table(many.out).sort_by("id")
    assert left.equals(right)
    # and a slice generated on its own equals the same rows of the whole
    middle = generate_rows(1000, 40_000, seed=3)
    assert middle.equals(left.slice(1000, 39_000).drop_columns(["event_date"]).select(middle.schema.names))


def test_different_seeds_give_different_rows():
    a = generate_rows(0, 5_000, seed=1)
    b = generate_rows(0, 5_000, seed=2)
    assert not a["I1"].equals(b["I1"])
    assert not a["C2"].equals(b["C2"])


def test_schema_matches_the_issue(tmp_path):
    table = generate_table(50_000, seed=0, days=5)
    assert table.schema.equals(synthetic_schema())
    names = table.schema.names
    assert [f"I{i}" for i in range(1, 14)] == [n for n in names if n.startswith("I")]
    assert [f"C{i}" for i in range(1, 27)] == [n for n in names if n.startswith("C")]
    ids = table["id"].to_numpy()
    assert len(np.unique(ids)) == len(ids)
    assert set(pc.unique(table["label"]).to_pylist()) == {0, 1}
    p_true = table["p_true"].to_numpy()
    assert ((p_true > 0) & (p_true < 1)).all()
    assert pc.count_distinct(table["event_date"]).as_py() == 5
    assert table["user_email"].null_count == 0
    assert all(e.endswith("@example.com") for e in table["user_email"].slice(0, 100).to_pylist())


def test_numeric_columns_are_heavy_tailed_counts_with_nulls():
    table = generate_table(100_000, seed=0)
    for i in range(1, 14):
        column = table[f"I{i}"]
        null_share = column.null_count / len(column)
        assert 0.04 <= null_share <= 0.21, (f"I{i}", null_share)
        values = column.drop_null().to_numpy()
        assert np.percentile(values, 99.9) > 5 * max(np.median(values), 1), f"I{i} is not heavy-tailed"
    negatives = sum(int((table[f"I{i}"].drop_null().to_numpy() < 0).sum()) for i in range(1, 14))
    assert 0 < negatives < 0.01 * table.num_rows * 13


def test_categorical_columns_mix_types_and_follow_zipf():
    table = generate_table(200_000, seed=0)
    types = {str(table.schema.field(f"C{i}").type) for i in range(1, 27)}
    assert types == {"int64", "string"}
    distinct = [pc.count_distinct(table[f"C{i}"]).as_py() for i in range(1, 27)]
    assert min(distinct) <= 12 and max(distinct) >= 50_000
    assert any(table[f"C{i}"].null_count for i in range(1, 27))
    counts = np.sort(pc.value_counts(table["C11"].drop_null()).field("counts").to_numpy())[::-1]
    assert counts[0] > 20 * counts[min(99, len(counts) - 1)], "top value should dominate as in a Zipf law"


def test_planted_model_is_learnable():
    """A simple model fitted on the features gets within a few AUC points of the Bayes AUC."""
    sklearn = pytest.importorskip("sklearn")
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import TargetEncoder

    table = generate_table(160_000, seed=11)
    numeric = np.column_stack([table[f"I{i}"].to_numpy(zero_copy_only=False) for i in range(1, 14)])
    categorical = np.column_stack(
        [pc.cast(table[f"C{i}"], "string").fill_null("∅").to_numpy(zero_copy_only=False) for i in range(1, 27)]
    )
    labels = table["label"].to_numpy()
    train, test = slice(0, 120_000), slice(120_000, None)
    encoder = TargetEncoder(cv=5)
    encoded_train = encoder.fit_transform(categorical[train], labels[train])
    encoded_test = encoder.transform(categorical[test])
    model = HistGradientBoostingClassifier(max_iter=150, random_state=0)
    model.fit(np.hstack([numeric[train], encoded_train]), labels[train])
    learned = roc_auc_score(labels[test], model.predict_proba(np.hstack([numeric[test], encoded_test]))[:, 1])
    bayes = roc_auc_score(labels[test], table["p_true"].to_numpy()[test])
    assert 0.70 < bayes < 0.90
    assert learned > bayes - 0.04, (learned, bayes)


def test_drift_shifts_features_and_the_hidden_model():
    base = generate_table(60_000, seed=5)
    drifted = generate_table(60_000, seed=5, drift=1.0)
    # the drifted column C2 puts its mass on values that were rare before
    top = pc.value_counts(base["C2"].drop_null()).to_pylist()
    top_value = max(top, key=lambda e: e["counts"])["values"]
    share_before = pc.sum(pc.equal(base["C2"], top_value)).as_py() / base.num_rows
    share_after = (pc.sum(pc.equal(drifted["C2"], top_value)).as_py() or 0) / drifted.num_rows
    assert share_after < share_before / 3
    # the hidden model moves too, and more so with stronger drift
    assert not np.allclose(hidden_model(5, 1.0).numeric_weights, hidden_model(5, 0.0).numeric_weights)
    assert not np.allclose(hidden_model(5, 1.0).effects["C1"], hidden_model(5, 0.0).effects["C1"])
    mild = generate_table(60_000, seed=5, drift=0.1)
    assert np.abs(mild["p_true"].to_numpy() - base["p_true"].to_numpy()).mean() < np.abs(
        drifted["p_true"].to_numpy() - base["p_true"].to_numpy()
    ).mean()


def test_generated_data_passes_its_contract(tmp_path):
    result = write_synthetic_dataset(tmp_path / "d", GenerateRequest(rows=20_000, days=2, files_per_day=2))
    report = check_dataset(synthetic_contract(), result.out)
    assert report.ok, report.problems
    assert report.rows == 20_000 and report.files == 4
    contract = synthetic_contract()
    assert contract.column("p_true").role == "ignore"
    assert contract.column("user_email").role == "pii"
    assert sorted(p.name for p in Path(result.out).iterdir()) == [
        "_generated.json",
        "contract.yaml",
        "event_date=2026-01-01",
        "event_date=2026-01-02",
    ]


def test_refuses_to_replace_a_directory_it_did_not_write(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="did not generate"):
        write_synthetic_dataset(foreign, GenerateRequest(rows=100))
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "field, value, message",
    [("rows", 0, "rows"), ("drift", 1.5, "drift"), ("start_date", "01/02/2026", "YYYY-MM-DD"), ("days", 0, "days")],
)
def test_bad_generate_request(field, value, message):
    with pytest.raises(DataError, match=message):
        GenerateRequest(**{"rows": 10, field: value})
