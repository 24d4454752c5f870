"""An explanation's outputs: explain.json and explain.png, a printed table, and MLflow metric names.

MLflow metric names may hold only letters, digits, `_ - . /` and spaces (and `/` must not make a
path that normalises differently), so `importance.<column>` keeps a column's letters, digits, `_`,
`-`, `.` and spaces and turns anything else into `_` (`C/1` → `importance.C_1`); names that meet
after that get `_2`, `_3`... in column order.

Example:
    >>> importance_metrics({"columns": [{"column": "C 1", "importance": 0.02}, {"column": "ünit", "importance": 0.0}]})
    {'importance.C 1': 0.02, 'importance._nit': 0.0}
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

from framework.monitor.check import EXPLAIN_FILE

__all__ = ["EXPLAIN_FILE", "CHART_FILE", "METRIC_PREFIX", "chart_png", "write_explanation", "importance_metrics", "table_lines"]

CHART_FILE = "explain.png"
METRIC_PREFIX = "importance."
CHART_COLUMNS = 40  # the chart shows the most important columns; explain.json has all of them
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. ]")
_MLFLOW_KEY_LENGTH = 250


def importance_metrics(explanation: dict) -> dict[str, float]:
    """`importance.<column>` → AUC drop, names made safe for MLflow (see the module docstring)."""
    metrics: dict[str, float] = {}
    for row in sorted(explanation["columns"], key=lambda r: r["column"]):
        base = (METRIC_PREFIX + _UNSAFE.sub("_", row["column"]))[:_MLFLOW_KEY_LENGTH - 4]
        name, suffix = base, 2
        while name in metrics:
            name, suffix = f"{base}_{suffix}", suffix + 1
        metrics[name] = float(row["importance"])
    return metrics


def table_lines(explanation: dict) -> list[str]:
    """The printed table: one line per column, most important first."""
    lines = [f"{'column':<20} {'AUC drop':>10} {'± std':>9} {'logloss +':>10}  model inputs"]
    for row in explanation["columns"]:
        lines.append(f"{row['column']:<20} {row['importance']:>10.5f} {row['std']:>9.5f} {row['logloss_importance']:>10.5f}  "
                     f"{', '.join(row.get('inputs', []))}")
    baseline = explanation["baseline"]
    lines.append(f"baseline AUC {baseline['auc']:.4f}, logloss {baseline['logloss']:.4f} on {explanation['rows']:,} rows; "
                 f"{explanation['repeats']} shuffle(s) per column, seed {explanation['seed']}")
    return lines


def chart_png(explanation: dict) -> bytes:
    """A bar chart of the AUC drop per column (with its standard deviation), as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    rows = explanation["columns"][:CHART_COLUMNS][::-1]  # most important on top
    figure, axes = plt.subplots(figsize=(6.4, max(2.4, 0.22 * len(rows) + 1.2)))
    axes.barh(range(len(rows)), [r["importance"] for r in rows], xerr=[r["std"] for r in rows],
              color=["#2e86c1" if r["importance"] > 0 else "#95a5a6" for r in rows], error_kw={"linewidth": 0.8})
    axes.set_yticks(range(len(rows)), [r["column"] for r in rows], fontsize=7)
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("AUC drop when the column is shuffled")
    axes.set_title(f"Permutation importance ({explanation['rows']:,} rows, {explanation['repeats']} shuffle(s))", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def write_explanation(explanation: dict, directory: str | os.PathLike) -> Path:
    """Write explain.json and explain.png into `directory`; returns the JSON path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / EXPLAIN_FILE
    path.write_text(json.dumps(explanation, indent=2, sort_keys=True) + "\n")
    (directory / CHART_FILE).write_bytes(chart_png(explanation))
    return path
