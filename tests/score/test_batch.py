"""Batch scoring end to end on the shared Ray cluster: what a committed run holds, checked against
the input (pyarrow), BundleScorer and an independent by-hand computation (pipeline + torch)."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pyarrow.compute as pc
import pytest
import torch

from framework.lineage import data_snapshot
from framework.score import BundleScorer, read_committed, run_scoring, verify_run

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _by_id(table, column):
    order = pc.sort_indices(table["id"])
    return table[column].take(order).to_numpy()


def _by_hand(bundle, table) -> np.ndarray:
    """The Arrow transform, then the torch model: independent of model_inputs and predict_proba."""
    transformed = bundle.pipeline.transform(table)
    continuous = np.stack([transformed[c].to_numpy(zero_copy_only=False) for c in bundle.continuous_columns], axis=1)
    continuous = np.nan_to_num(continuous.astype(np.float32), nan=0.0)
    categorical = np.stack([transformed[c].to_numpy() for c in bundle.categorical_columns], axis=1)
    with torch.no_grad():
        logits = bundle.model(torch.from_numpy(continuous), torch.from_numpy(categorical.astype(np.int64)))
    return torch.sigmoid(logits.double()).numpy()


def test_the_committed_run_verifies_and_staging_is_gone(committed):
    report = verify_run(committed.run_dir)
    assert report.ok, report.problems
    assert committed.run_dir.name == "run_date=2026-02-01"
    assert (committed.run_dir / "_SUCCESS").is_file() and (committed.run_dir / "manifest.json").is_file()
    assert not (committed.run_dir.parent / "_staging").exists()


def test_rows_out_equal_rows_in_with_no_duplicate_ids(world, committed):
    source, scored = world.input_table(), read_committed(committed.run_dir)
    assert scored.num_rows == source.num_rows == world.rows
    assert pc.count_distinct(scored["id"]).as_py() == world.rows
    np.testing.assert_array_equal(np.sort(scored["id"].to_numpy()), np.sort(source["id"].to_numpy()))
    np.testing.assert_array_equal(_by_id(scored, "label"), _by_id(source, "label"))
    assert scored.column_names == ["id", "event_date", "label", "score", "model_version"]
    assert scored.schema.field("event_date").type == source.schema.field("event_date").type
    assert set(scored["model_version"].to_pylist()) == {BundleScorer(world.bundle).identity.version}


def test_scores_equal_the_bundle_scorer_and_a_by_hand_computation(world, committed):
    source, scored = world.input_table(), read_committed(committed.run_dir)
    scorer = BundleScorer(world.bundle)
    order = pc.sort_indices(source["id"])
    source = source.take(order)
    batch = _by_id(scored, "score")
    np.testing.assert_allclose(batch, scorer.score(source), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(batch, _by_hand(scorer.bundle, source), rtol=1e-6, atol=1e-9)
    assert batch.std() > 0.01


def test_file_names_come_from_input_file_and_chunk(world, committed):
    names = sorted(f["path"] for f in committed.manifest["files"])
    pattern = re.compile(r"part-event_date_2026-02-01__part-0000[0-7]-[0-9a-f]{8}-g00000-c000[0-4]\.parquet")
    assert len(names) == 8 * 5 and all(pattern.fullmatch(n) for n in names), names[:3]
    assert sorted(p.name for p in committed.run_dir.glob("*.parquet")) == names


def test_the_manifest_records_files_model_input_and_code(world, committed):
    manifest = json.loads((committed.run_dir / "manifest.json").read_text())
    for listed in manifest["files"]:
        data = (committed.run_dir / listed["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == listed["sha256"] and len(data) == listed["bytes"]
    identity = BundleScorer(world.bundle).identity
    assert manifest["model"]["sha256"] == identity.sha256 and manifest["model"]["version"] == identity.version
    assert manifest["input"]["snapshot"] == data_snapshot(str(world.day))["hash"]
    assert set(manifest["code"]) == {"git_commit", "dirty"}
    assert manifest["rows"] == {"in": world.rows, "scored": world.rows, "rejected": 0}


def test_a_rerun_replaces_the_committed_run_with_the_same_hashes(world, committed):
    before = json.loads((committed.run_dir / "manifest.json").read_text())
    again = run_scoring(world.config(committed.run_dir.parent))
    after = json.loads((again.run_dir / "manifest.json").read_text())
    assert again.run_dir == committed.run_dir and again.tasks_skipped == 0
    assert after == before  # every file's sha256 included: the same bytes, not merely the same rows
    assert verify_run(again.run_dir).ok
    assert sorted(p.name for p in committed.run_dir.parent.iterdir()) == ["run_date=2026-02-01"]


def test_each_run_commits_its_drift_report(committed):
    from framework.score import verify_run

    manifest = committed.manifest
    assert [r["path"] for r in manifest["reports"]] == ["drift.json", "drift.png"]
    drift = json.loads((committed.run_dir / "drift.json").read_text())
    assert manifest["drift"] == {"drifted": drift["drifted"], "breaches": [b["feature"] for b in drift["breaches"]]}
    assert drift["rows"] > 0 and "prediction" in drift and set(drift["features"]) >= {"I1", "C1"}
    assert not drift["drifted"], drift["breaches"]  # the same generator and seed family as the training data
    assert verify_run(committed.run_dir).ok


def test_each_run_is_audited_and_tracked(committed):
    from framework.governance import AuditLog
    from framework.registry.store import experiment_id, mlflow_client

    records = [r for r in AuditLog.default().records() if r["action"] == "score"]
    assert any(r["details"]["run_dir"] == str(committed.run_dir) for r in records)
    client = mlflow_client()
    runs = client.search_runs([experiment_id(client)], "tags.`raylane.kind` = 'score'")
    ours = [r for r in runs if r.data.tags.get("raylane.run_dir") == str(committed.run_dir)]
    assert ours and ours[0].data.metrics["in"] == committed.manifest["rows"]["in"]
    assert ours[0].data.params["run_date"] == committed.manifest["run_date"]
    assert ours[0].data.tags["raylane.data.input.hash"] == committed.manifest["input"]["snapshot"]
