"""Drift breaches name their raw columns and those columns' importance when the bundle was explained,
and `raylane drift` prints it; the model card of an explained bundle has the table and the fairness summary."""

from __future__ import annotations

import json

import pytest
from tests.explain.conftest import explained_bundle
from tests.scoring_fakes import generate

from framework.explain import EXPLAIN_FILE, ExplainSettings
from framework.monitor import check_drift
from framework.monitor.drift import add_importance, input_sources


def test_model_inputs_map_back_to_raw_columns(world):
    from framework.models import load_bundle

    sources = input_sources(load_bundle(world.bundle).pipeline)
    assert sources["C1_x_C4"] == ["C1", "C4"] and sources["I3_missing"] == ["I3"] and sources["C5_te"] == ["C5"]
    assert sources["C1"] == ["C1"] and sources["I13"] == ["I13"]
    assert len(sources) == 13 * 2 + 5 + 26 + 1  # every model input: I*, I*_missing, *_te, C*, the cross


def test_a_cross_takes_the_larger_importance_of_its_columns():
    report = {"breaches": [{"feature": "C1_x_C4", "metric": "psi", "value": 0.5, "threshold": 0.2},
                           {"feature": "C3", "metric": "psi", "value": 0.3, "threshold": 0.2},
                           {"feature": "prediction", "metric": "psi", "value": 0.25, "threshold": 0.2}]}
    add_importance(report, {"C1_x_C4": ["C1", "C4"], "C3": ["C3"]}, {"C1": 0.01, "C4": 0.04})
    cross, unexplained, prediction = report["breaches"]
    assert cross["columns"] == ["C1", "C4"] and cross["importance"] == 0.04
    assert unexplained["columns"] == ["C3"] and unexplained["importance"] is None
    assert "importance" not in prediction


def test_drifted_day_breaches_carry_importance(world, capsys):
    from framework.cli.drift import _print

    drifted = generate(world.root / "drifted", rows=3_000, seed=3, start_date="2026-01-03", drift=1.0)
    importance = {row["column"]: row["importance"] for row in json.loads((world.bundle / EXPLAIN_FILE).read_text())["columns"]}
    report = check_drift(world.bundle, drifted)
    features = [b for b in report["breaches"] if b["feature"] != "prediction"]
    assert features, report["breaches"]
    for breach in features:
        assert breach["importance"] == pytest.approx(max(importance[c] for c in breach["columns"]))
    _print(report)
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("breach: ")]
    first = features[0]
    assert any(line.startswith(f"breach: {first['feature']} ") and f"importance {first['importance']:.4f}" in line for line in printed)
    unexplained = explained_bundle(world.root / "unexplained", world.plain, world.valid, ExplainSettings(enabled=False))
    assert not (unexplained / EXPLAIN_FILE).exists()
    assert all("importance" not in b for b in check_drift(unexplained, drifted)["breaches"])


def test_the_card_of_an_explained_bundle(world):
    card = (world.bundle / "model_card.md").read_text()
    importance = json.loads((world.bundle / EXPLAIN_FILE).read_text())
    top = importance["columns"][0]
    assert "## Feature importance" in card and f"| `{top['column']}` | {top['importance']:.5f} |" in card
    fairness = card.split("## Fairness summary")[1].split("\n## ")[0]
    assert "| `C1` |" in fairness and "| `C4` |" in fairness
