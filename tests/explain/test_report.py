"""The explanation's outputs: MLflow metric names, the chart, the files, the printed table, and the
metrics on the training run."""

from __future__ import annotations

import json

import pytest

from framework.explain import CHART_FILE, EXPLAIN_FILE, chart_png, importance_metrics, table_lines, write_explanation
from framework.monitor.check import EXPLAIN_FILE as MONITOR_EXPLAIN_FILE


def _explanation(names=("C1", "I1", "C/2")) -> dict:
    rows = [{"column": name, "importance": 0.03 / (i + 1), "std": 0.001, "logloss_importance": 0.01 / (i + 1),
             "logloss_std": 0.0005, "inputs": [name]} for i, name in enumerate(names)]
    return {"metric": "auc", "repeats": 3, "rows": 1000, "seed": 0, "baseline": {"auc": 0.7, "logloss": 0.5}, "columns": rows}


def test_metric_names_are_safe_for_mlflow_and_distinct():
    from mlflow.utils.validation import _validate_metric_name

    metrics = importance_metrics(_explanation(["C1", "a/b", "a:b", "a b", "ü", "../x", "x" * 300]))
    assert metrics["importance.C1"] == 0.03 and metrics["importance.a b"] > 0
    assert {"importance.a_b", "importance.a_b_2"} <= set(metrics)  # "a/b" and "a:b" meet, then part
    assert len(metrics) == 7
    for name in metrics:
        _validate_metric_name(name)


def test_files_chart_and_table(tmp_path):
    explanation = _explanation()
    path = write_explanation(explanation, tmp_path / "out")
    assert path.name == EXPLAIN_FILE == MONITOR_EXPLAIN_FILE and json.loads(path.read_text()) == explanation
    assert (tmp_path / "out" / CHART_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart_png(explanation)[:4] == b"\x89PNG"
    lines = table_lines(explanation)
    assert lines[1].split()[:2] == ["C1", "0.03000"] and "baseline AUC 0.7000" in lines[-1]


def test_the_training_run_gets_one_metric_per_column(raylane_home):
    from framework.explain.tracking import ARTIFACT_PATH, log_importance
    from framework.registry.store import mlflow_client
    from framework.registry.tracking import log_run

    run_id = log_run("train", "explained", config={}, metrics_by_epoch=[{"epoch": 1, "auc": 0.7}])
    log_importance(run_id, _explanation())
    client = mlflow_client()
    metrics = client.get_run(run_id).data.metrics
    assert metrics["importance.C1"] == pytest.approx(0.03) and metrics["importance.C_2"] == pytest.approx(0.01)
    assert metrics["auc"] == 0.7
    assert [a.path for a in client.list_artifacts(run_id, ARTIFACT_PATH)] == [f"{ARTIFACT_PATH}/{CHART_FILE}"]
