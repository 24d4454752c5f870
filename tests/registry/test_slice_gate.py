"""The slice gate of promotion: a candidate trained to be worse on one slice of the synthetic data is
refused, naming the slice and both AUCs, even where its overall AUC wins; an honest one is promoted;
--force promotes the bad one and the audit log records the slices it failed. The expected per-slice
AUCs are computed here with scikit-learn, independently of the gate."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score
from tests.scoring_fakes import generate, make_bundle

from framework.data import read_table
from framework.data.generate import CONTRACT_FILE
from framework.governance import AuditLog
from framework.registry.slice_gate import DEFAULT_MAX_SLICE_DROP

SLICES = ["C1", "C4"]
NIGHTLY = Path(__file__).resolve().parents[2] / "jobs" / "configs" / "nightly.yaml"
WEAK_STEPS, STEPS = 20, 150  # the current model is trained briefly, so an honest candidate beats it on every slice


def _with_one_slice_broken(data, column: str, value, out):
    """A copy of the training data in which the rows of column=value have their labels flipped."""
    table = read_table(data)
    mask = pc.fill_null(pc.equal(table[column], value), False).to_numpy(zero_copy_only=False)
    labels = table["label"].to_numpy().copy()
    labels[mask] = 1 - labels[mask]
    out.mkdir(parents=True)
    pq.write_table(table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels, table["label"].type)),
                   out / "part-00000.parquet")
    shutil.copy(data / CONTRACT_FILE, out / CONTRACT_FILE)
    return out


def _bundle_with_card(directory, data, seed: int, steps: int):
    """make_bundle's bundle again, now with the model card `raylane train` writes (card.slices in its config)."""
    from framework.models import load_bundle, save_bundle
    from framework.registry.card import model_card

    plain = load_bundle(make_bundle(directory.with_name(directory.name + "-plain"), data, seed=seed, steps=steps))
    config = {"card": {"slices": SLICES}, "optim": {"steps": steps}, "run": {"seed": seed}}
    return save_bundle(directory, model=plain.model, model_config=plain.model_config,
                       continuous_columns=plain.continuous_columns, categorical_columns=plain.categorical_columns,
                       cardinalities=plain.cardinalities, pipeline=plain.pipeline, metrics=plain.metrics,
                       contract_path_or_text=plain.contract_path, lineage=plain.lineage,
                       documents={"model_card.md": model_card("ctr", config, {}, plain.lineage, {})})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A private RAYLANE_HOME with three bundles that carry card.slices [C1, C4]: a briefly trained
    current model, an honest better one, and one trained with the labels of one C1 value flipped."""
    root = tmp_path_factory.mktemp("slice-gate")
    saved = {k: os.environ.get(k) for k in ("RAYLANE_HOME", "MLFLOW_TRACKING_URI", "RAYLANE_AUDIT_LOG")}
    os.environ["RAYLANE_HOME"] = str(root / "home")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("RAYLANE_AUDIT_LOG", None)
    train = generate(root / "train", rows=30_000, seed=1)
    holdout = generate(root / "holdout", rows=20_000, seed=4, start_date="2026-01-05")
    counts = pc.value_counts(read_table(train, columns=["C1"])["C1"]).to_pylist()
    value = sorted(counts, key=lambda c: -c["counts"])[1]["values"]  # a slice with thousands of rows, not the largest
    broken = _with_one_slice_broken(train, "C1", value, root / "train-broken")
    yield {
        "holdout": holdout, "slice": f"C1={value}",
        "current": _bundle_with_card(root / "current", train, seed=0, steps=WEAK_STEPS),
        "honest": _bundle_with_card(root / "honest", train, seed=1, steps=STEPS),
        "bad": _bundle_with_card(root / "bad", broken, seed=1, steps=STEPS),
    }
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _expected(bundle, holdout) -> dict[str, tuple[int, float]]:
    """slice → (rows, AUC) by scikit-learn on the bundle's scores, for every value of SLICES."""
    from framework.score import BundleScorer

    table = read_table(holdout)
    scores, labels = BundleScorer(bundle).score(table), table["label"].to_numpy()
    expected = {"overall": (len(labels), roc_auc_score(labels, scores))}
    for column in SLICES:
        values = table[column].to_numpy(zero_copy_only=False)
        for value in set(values) - {None}:
            mask = values == value
            if 0 < labels[mask].sum() < mask.sum():
                expected[f"{column}={value}"] = (int(mask.sum()), roc_auc_score(labels[mask], scores[mask]))
    return expected


def _check_numbers(decision, candidate: dict, current: dict) -> None:
    assert decision.candidate_auc == pytest.approx(candidate["overall"][1], abs=1e-9)
    assert decision.current_auc == pytest.approx(current["overall"][1], abs=1e-9)
    gated = {name for name, (rows, _) in candidate.items() if name != "overall" and rows >= decision.min_slice_rows}
    assert {c.slice for c in decision.slices} == gated and gated
    for comparison in decision.slices:
        rows, auc = candidate[comparison.slice]
        assert comparison.rows == rows == current[comparison.slice][0]
        assert comparison.candidate_auc == pytest.approx(auc, abs=1e-9)
        assert comparison.current_auc == pytest.approx(current[comparison.slice][1], abs=1e-9)
        assert comparison.drop == pytest.approx(comparison.current_auc - comparison.candidate_auc, abs=1e-12)
        assert comparison.failed == (comparison.drop > decision.max_slice_drop)


def _check_numbers_from_audit(details: dict, candidate: dict, current: dict) -> None:
    for comparison in details["slices"]:
        assert comparison["candidate_auc"] == pytest.approx(candidate[comparison["slice"]][1], abs=1e-9)
        assert comparison["current_auc"] == pytest.approx(current[comparison["slice"]][1], abs=1e-9)


@pytest.mark.slow
def test_a_candidate_worse_on_one_slice_is_refused_naming_it(world):
    from framework.registry import PromotionRefused, promote, register_trained_bundle

    promote("ctr", register_trained_bundle("ctr", world["current"]).version, "prod")  # ctr/1: nothing to beat
    bad = register_trained_bundle("ctr", world["bad"])  # ctr/2
    candidate, current = _expected(world["bad"], world["holdout"]), _expected(world["current"], world["holdout"])
    assert candidate["overall"][1] > current["overall"][1]  # the overall gate alone would let it through
    with pytest.raises(PromotionRefused) as refused:
        promote("ctr", bad.version, "prod", holdout=world["holdout"])
    message = str(refused.value)
    rows, bad_auc = candidate[world["slice"]]
    failure = next(part for part in message.split("; ") if part.startswith(f"slice {world['slice']}:"))
    assert f"candidate AUC {bad_auc:.4f} on {rows:,} rows" in failure
    assert f"current AUC {current[world['slice']][1]:.4f} on {rows:,} rows" in failure
    assert f"max_slice_drop {DEFAULT_MAX_SLICE_DROP}" in failure and "--force" in message
    record = list(AuditLog.default().records())[-1]
    assert (record["action"], record["outcome"]) == ("promote", "refused")
    assert any(entry.startswith(world["slice"] + ":") for entry in record["details"]["slice_failures"])
    _check_numbers_from_audit(record["details"], candidate, current)


@pytest.mark.slow
def test_an_honest_candidate_is_promoted(world):
    from framework.registry import promote, register_trained_bundle, version_details

    honest = register_trained_bundle("ctr", world["honest"])  # ctr/3, against ctr/1
    decision = promote("ctr", honest.version, "prod", holdout=world["holdout"])
    assert decision.promoted and not decision.forced and version_details("ctr@prod")["version"] == honest.version
    assert decision.slice_columns == ("C1", "C4") and not any(c.failed for c in decision.slices)
    _check_numbers(decision, _expected(world["honest"], world["holdout"]), _expected(world["current"], world["holdout"]))
    worst = max(decision.slices, key=lambda c: c.drop)
    assert f"worst slice {worst.slice}: candidate AUC {worst.candidate_auc:.4f}" in decision.summary()


@pytest.mark.slow
def test_force_promotes_the_bad_candidate_and_is_audited(world):
    from framework.registry import promote, version_details

    decision = promote("ctr", "2", "prod", holdout=world["holdout"], force=True)  # the bad one over the honest ctr/3
    assert decision.promoted and decision.forced and version_details("ctr@prod")["version"] == "2"
    assert version_details("ctr/2")["tags"]["raylane.forced_promotion"] == "prod"
    _check_numbers(decision, _expected(world["bad"], world["holdout"]), _expected(world["honest"], world["holdout"]))
    failed = [c for c in decision.slices if c.failed]
    assert world["slice"] in {c.slice for c in failed}
    log = AuditLog.default()
    record = list(log.records())[-1]
    assert (record["action"], record["outcome"]) == ("promote", "forced") and log.verify().ok
    assert record["details"]["slice_failures"] == [c.describe() for c in failed]


@pytest.mark.slow
def test_cli_options_reach_the_gate(world):
    import subprocess
    import sys

    def promote(*options):
        return subprocess.run([sys.executable, "-m", "framework.cli", "models", "promote", "ctr", "3", "--alias", "prod",
                               "--holdout", str(world["holdout"]), *options], capture_output=True, text=True, env=dict(os.environ))

    lenient = promote("--max-slice-drop", "1.0", "--margin", "0.0")  # ctr/3 (honest) over the bad ctr/2
    assert lenient.returncode == 0 and "worst slice" in lenient.stdout and "max_slice_drop 1.0" in lenient.stdout
    bad = promote("--min-slice-rows", "0")
    assert bad.returncode != 0 and "min_slice_rows" in bad.stderr and "Traceback" not in bad.stderr


def test_one_class_slices_are_skipped_and_said_so():
    from framework.registry.slice_gate import compare_slices, worst_slice

    table = pa.table({"C1": ["a"] * 6 + ["b"] * 4 + [None] * 2 + ["c"], "label": [0, 1, 0, 1, 1, 0] + [1] * 4 + [0, 1] + [1]})
    candidate = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3, 0.5, 0.5, 0.5, 0.5, 0.1, 0.9, 0.5])
    current = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.5, 0.5, 0.5, 0.5, 0.1, 0.9, 0.5])
    comparisons = compare_slices(table, "label", ["C1"], candidate, current, max_drop=0.05, min_rows=2)
    assert [c.slice for c in comparisons] == ["C1=a", "C1=b"]  # c has too few rows; nulls are no slice
    a, b = comparisons
    assert (a.candidate_auc, a.current_auc, a.drop, a.failed) == (1.0, 0.0, -1.0, False)
    assert b.candidate_auc is None and not b.failed and "one class is missing" in b.describe()
    assert worst_slice(comparisons) is a
    flipped = compare_slices(table, "label", ["C1"], current, candidate, max_drop=0.05, min_rows=2)
    assert flipped[0].failed and flipped[0].drop == 1.0


def test_slices_come_from_the_model_card_and_are_never_pii(tmp_path):
    from types import SimpleNamespace

    from framework.data.generate import synthetic_contract
    from framework.data.contract import save_contract
    from framework.errors import ConfigError
    from framework.registry.card import model_card
    from framework.registry.slice_gate import slice_columns

    save_contract(synthetic_contract(), tmp_path / "contract.yaml")
    bundle = SimpleNamespace(directory=tmp_path, checksums={"model_card.md": "-"}, contract_path=tmp_path / "contract.yaml")
    for slices, expected in ((["C1", "C4"], ["C1", "C4"]), ([], [])):
        (tmp_path / "model_card.md").write_text(model_card("ctr", {"card": {"slices": slices}}, {}, {}, {}))
        assert slice_columns(bundle) == expected
    assert slice_columns(SimpleNamespace(directory=tmp_path, checksums={}, contract_path=None)) == []  # an unlisted card
    (tmp_path / "model_card.md").write_text(model_card("ctr", {"card": {"slices": ["user_email"]}}, {}, {}, {}))
    with pytest.raises(ConfigError, match="pii"):
        slice_columns(bundle)


def test_the_nightly_config_takes_the_slice_settings(monkeypatch):
    import framework.registry
    from framework.config import load_config
    from framework.errors import ConfigError
    from framework.monitor.nightly import _gate
    from framework.registry.slice_gate import DEFAULT_MIN_SLICE_ROWS

    _, shipped = load_config(NIGHTLY, kind="nightly")
    assert (shipped.gate.max_slice_drop, shipped.gate.min_slice_rows) == (DEFAULT_MAX_SLICE_DROP, DEFAULT_MIN_SLICE_ROWS)
    _, cfg = load_config(NIGHTLY, ["gate.max_slice_drop=0.04", "gate.min_slice_rows=500"], kind="nightly")
    for bad in ("gate.max_slice_drop=-0.1", "gate.max_slice_drop=2", "gate.min_slice_rows=0"):
        with pytest.raises(ConfigError, match=bad.split("=")[0].split(".")[1]):
            load_config(NIGHTLY, [bad], kind="nightly")
    calls = []
    monkeypatch.setattr(framework.registry, "promote", lambda *args, **kwargs: calls.append(kwargs) or _Decision())
    assert _gate(cfg, "7", log=lambda line: None)[0] == "promoted"
    assert (calls[0]["max_slice_drop"], calls[0]["min_slice_rows"]) == (0.04, 500)


@dataclass
class _Decision:
    def summary(self) -> str:
        return "stub"
