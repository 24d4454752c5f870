"""Feature profiles and drift: PSI against a hand computation, no breach on the same distribution,
breaches on drifted data, the report files, and no raw values anywhere in them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from tests.scoring_fakes import generate, make_bundle

from framework.data import read_table
from framework.errors import ArtifactError
from framework.monitor import DriftThresholds, check_drift, psi, write_drift_report
from framework.monitor.profile import bin_shares, category_shares, quantile_edges


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    train = generate(root / "train", rows=20_000, seed=1)
    valid = generate(root / "valid", rows=8_000, seed=2, start_date="2026-01-02")
    bundle = make_bundle(root / "bundle", train, profile_data=valid)
    same = generate(root / "same", rows=8_000, seed=3, start_date="2026-01-03")
    drifted = generate(root / "drifted", rows=8_000, seed=3, start_date="2026-01-03", drift=1.0)
    return {"bundle": bundle, "same": same, "drifted": drifted, "root": root}


def test_psi_matches_the_formula():
    reference, current = [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]
    expected = sum((c - r) * math.log(c / r) for r, c in zip(reference, current))
    assert psi(reference, current) == pytest.approx(expected, rel=1e-12)
    assert psi(reference, reference) == 0.0
    assert math.isfinite(psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))  # empty bins are floored, not infinite


def test_bins_follow_searchsorted_and_count_missing_apart():
    values = np.array([0.0, 1.0, 2.0, 3.0, np.nan, 10.0])
    edges = [1.0, 3.0]
    # side="right": 0 → bin 0; 1, 2 → bin 1; 3, 10 → bin 2; NaN → the missing bin
    assert bin_shares(values, edges) == pytest.approx([1 / 6, 2 / 6, 2 / 6, 1 / 6])
    assert quantile_edges(np.array([1.0, 1.0, 1.0, 2.0])) == sorted(set(np.quantile([1, 1, 1, 2], np.linspace(0, 1, 11)[1:-1])))
    assert category_shares(np.array([3, 3, 5, 7]), [3, 5]) == pytest.approx([0.5, 0.25, 0.25])


def test_same_distribution_has_no_breach(world):
    report = check_drift(world["bundle"], world["same"])
    assert report["rows"] == 8_000 and not report["drifted"], report["breaches"]
    assert report["prediction"]["psi"] < 0.05
    assert max(row["psi"] for row in report["features"].values()) < 0.1


def test_drifted_data_breaches_and_lists_features(world):
    report = check_drift(world["bundle"], world["drifted"])
    assert report["drifted"]
    breached = {b["feature"] for b in report["breaches"]}
    assert len(breached) >= 3
    values = [b["value"] for b in report["breaches"]]
    assert values == sorted(values, reverse=True)
    assert all(b["value"] > b["threshold"] for b in report["breaches"])
    # C3 is shifted down its ranks by --drift: its values leave the training vocabulary
    c3 = report["features"]["C3"]
    assert c3["oov_share"] > c3["reference_oov_share"] + 0.05


def test_thresholds_are_configurable(world):
    lenient = check_drift(world["bundle"], world["drifted"], DriftThresholds(psi=1e9, prediction_psi=1e9, oov_share_increase=1.0))
    assert not lenient["drifted"] and lenient["breaches"] == []


def test_report_files_hold_no_raw_values(world, tmp_path):
    report = check_drift(world["bundle"], world["drifted"])
    path = write_drift_report(report, tmp_path)
    assert json.loads(path.read_text())["drifted"] is True
    assert (tmp_path / "drift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    raw = read_table(world["drifted"], columns=["user_email", "C2"])
    text = path.read_text() + (world["bundle"] / "profile.json").read_text()
    assert not any(email in text for email in raw["user_email"].to_pylist()[:200])
    assert not any(value in text for value in raw["C2"].drop_null().to_pylist()[:200])


def test_a_bundle_without_profile_is_refused(tmp_path, world):
    bare = make_bundle(tmp_path / "bare", world["root"] / "train", steps=1)
    with pytest.raises(ArtifactError, match="profile.json"):
        check_drift(bare, world["same"])


def test_cli_drift(world, tmp_path):
    import subprocess
    import sys

    command = [sys.executable, "-m", "framework.cli", "drift", "--model", str(world["bundle"]), "--data", str(world["drifted"])]
    result = subprocess.run([*command, "--out", str(tmp_path), "--fail-on-drift"], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr
    assert "DRIFTED" in result.stdout and "breach: " in result.stdout and (tmp_path / "drift.json").exists()
    missing = subprocess.run([*command[:-1], str(tmp_path / "nothing-here")], capture_output=True, text=True)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and "nothing-here" in missing.stderr
