"""The explanation in MLflow: one `importance.<column>` metric per raw column on the training run,
and the chart as the run's artifact explain/explain.png.

Example:
    >>> log_importance(run_id, explanation)      # doctest: +SKIP
"""

from __future__ import annotations

from framework.explain.report import CHART_FILE, chart_png, importance_metrics

__all__ = ["log_importance", "ARTIFACT_PATH"]

ARTIFACT_PATH = "explain"


def log_importance(run_id: str, explanation: dict) -> None:
    """Add the importance metrics (step 0) and the chart to an existing run, finished or not."""
    import tempfile
    import time
    from pathlib import Path

    from mlflow.entities import Metric

    from framework.registry.store import mlflow_client

    now = int(time.time() * 1000)
    metrics = [Metric(key=name, value=value, timestamp=now, step=0) for name, value in importance_metrics(explanation).items()]
    client = mlflow_client()
    for start in range(0, len(metrics), 1000):  # a batch takes at most 1000 metrics
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    with tempfile.TemporaryDirectory() as folder:
        chart = Path(folder) / CHART_FILE
        chart.write_bytes(chart_png(explanation))
        client.log_artifact(run_id, str(chart), artifact_path=ARTIFACT_PATH)
