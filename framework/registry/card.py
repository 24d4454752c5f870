"""The model card of a version (markdown): data, config, metrics, metrics per slice, a fairness
summary, feature importance, lineage, use.

Slices are the values of configured categorical columns in the validation data. For each slice: its
rows, AUC and calibration (mean prediction / observed click rate); the worst slice by AUC is marked.
That is the bias check; the fairness summary gives, per slice column, the largest gap between two of
its slices in AUC and in bias (mean prediction − click rate). Columns with the role `pii` can never
be slices. Feature importance is the bundle's explain.json (permutation importance per raw column).

Example:
    >>> slices = slice_metrics(table, scores, "label", ["C1"])              # doctest: +SKIP
    >>> print(model_card("ctr-small", config, metrics, lineage, slices))   # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["slice_metrics", "fairness_summary", "model_card"]

MIN_SLICE_ROWS = 100
MAX_SLICES = 12


def _slice_row(value, labels: np.ndarray, scores: np.ndarray) -> dict:
    from framework.metrics import roc_auc

    observed = float(labels.mean())
    return {"value": value, "rows": int(labels.size), "auc": roc_auc(labels, scores),
            "mean_prediction": float(scores.mean()), "click_rate": observed,
            "calibration": float(scores.mean() / observed) if observed else None}


def slice_metrics(table: pa.Table, scores: np.ndarray, label: str, columns: list[str]) -> dict[str, list[dict]]:
    """Per column: the most frequent values with at least MIN_SLICE_ROWS rows, as slice rows."""
    labels = table[label].to_numpy().astype(np.float64)
    result = {}
    for column in columns:
        counts = pc.value_counts(table[column]).to_pylist()
        frequent = sorted((c for c in counts if c["values"] is not None and c["counts"] >= MIN_SLICE_ROWS),
                          key=lambda c: (-c["counts"], str(c["values"])))[:MAX_SLICES]
        rows = []
        for entry in frequent:
            mask = pc.fill_null(pc.equal(table[column], entry["values"]), False).to_numpy(zero_copy_only=False)
            rows.append(_slice_row(entry["values"], labels[mask], scores[mask]))
        result[column] = rows
    return result


def _slice_table(column: str, rows: list[dict]) -> list[str]:
    if not rows:
        return [f"No value of `{column}` has {MIN_SLICE_ROWS} validation rows or more.", ""]
    scored = [r for r in rows if r["auc"] == r["auc"]]
    worst = min(scored, key=lambda r: r["auc"]) if scored else None
    lines = ["| value | rows | AUC | mean prediction | click rate | calibration |", "|---|---|---|---|---|---|"]
    for row in rows:
        mark = " **worst**" if row is worst else ""
        calibration = f"{row['calibration']:.3f}" if row["calibration"] is not None else "-"
        lines.append(f"| `{row['value']}`{mark} | {row['rows']:,} | {row['auc']:.4f} | {row['mean_prediction']:.4f} | "
                     f"{row['click_rate']:.4f} | {calibration} |")
    if worst is not None:
        lines += ["", f"Worst slice of `{column}`: `{worst['value']}` with AUC {worst['auc']:.4f}."]
    return lines + [""]


def _widest(rows: list[dict], value) -> dict:
    """The largest gap of `value` between two slices, and which slices they are."""
    low, high = min(rows, key=value), max(rows, key=value)
    return {"gap": value(high) - value(low), "low": low["value"], "high": high["value"]}


def fairness_summary(slices: Mapping[str, list[dict]]) -> dict[str, dict | None]:
    """Per slice column: the largest gap between its slices in AUC (`auc`) and in bias, mean
    prediction − click rate (`bias`); None with fewer than two slices."""
    summary: dict[str, dict | None] = {}
    for column, rows in slices.items():
        scored = [r for r in rows if r["auc"] == r["auc"]]
        summary[column] = None if len(rows) < 2 else {
            "slices": len(rows),
            "auc": _widest(scored, lambda r: r["auc"]) if len(scored) >= 2 else None,
            "bias": _widest(rows, lambda r: r["mean_prediction"] - r["click_rate"]),
        }
    return summary


def _fairness_lines(slices: Mapping[str, list[dict]]) -> list[str]:
    lines = ["## Fairness summary", "",
             "The largest gap between two slices of each column, in AUC and in bias (mean prediction − click rate).", "",
             "| column | slices | AUC gap | between | bias gap | between |", "|---|---|---|---|---|---|"]
    for column, found in fairness_summary(slices).items():
        if found is None:
            lines.append(f"| `{column}` | {len(slices[column])} | - | - | - | - |")
            continue
        auc, bias = found["auc"], found["bias"]
        auc_cells = f"{auc['gap']:.4f} | `{auc['low']}` < `{auc['high']}`" if auc else "- | -"
        lines.append(f"| `{column}` | {found['slices']} | {auc_cells} | {bias['gap']:.4f} | `{bias['low']}` < `{bias['high']}` |")
    return lines + [""]


def _importance_lines(importance: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Feature importance", ""]
    if not importance:
        return lines + ["Not computed for this model (`explain.enabled` in the training config).", ""]
    baseline = importance["baseline"]
    lines += [f"Permutation importance on {importance['rows']:,} validation rows: the drop in AUC when a raw column's values "
              f"are shuffled across the rows (mean ± std over {importance['repeats']} shuffle(s), seed {importance['seed']}), "
              f"and the increase of logloss. Baseline AUC {baseline['auc']:.4f}, logloss {baseline['logloss']:.4f}.", "",
              "| column | AUC drop | std | logloss increase | model inputs |", "|---|---|---|---|---|"]
    for row in importance["columns"]:
        inputs = ", ".join(f"`{name}`" for name in row.get("inputs", []))
        lines.append(f"| `{row['column']}` | {row['importance']:.5f} | {row['std']:.5f} | {row['logloss_importance']:.5f} | {inputs} |")
    return lines + [""]


def model_card(name: str, config: Mapping[str, Any], metrics: Mapping[str, Any], lineage: Mapping[str, Any],
               slices: Mapping[str, list[dict]], intended_use: str = "", limitations: str = "",
               importance: Mapping[str, Any] | None = None) -> str:
    """The card as markdown. `importance` is the bundle's explain.json (None: not computed)."""
    best = metrics.get("best", metrics)
    data = lineage.get("data") or {}
    code = lineage.get("code") or {}
    lines = [f"# Model card: {name}", "", "## Intended use", "", intended_use or "Not stated in the training config.", "",
             "## Limitations", "", limitations or "Not stated in the training config.", "", "## Data", ""]
    for split, snapshot in data.items():
        lines.append(f"- {split}: {snapshot.get('rows', '?'):,} rows in {snapshot.get('files', '?')} file(s), "
                     f"snapshot `{str(snapshot.get('hash'))[:16]}`")
    lines += ["", "## Metrics (best checkpoint, validation data)", "", "| metric | value |", "|---|---|"]
    for key in ("auc", "bayes_auc", "logloss", "epoch", "valid_rows"):
        if key in best and best[key] is not None:
            value = best[key]
            lines.append(f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |")
    lines += ["", "## Metrics per slice", ""]
    for column, rows in slices.items():
        lines += [f"### `{column}`", "", *_slice_table(column, rows)]
    if not slices:
        lines += ["No slice columns configured (`card.slices` in the training config).", ""]
    else:
        lines += _fairness_lines(slices)
    lines += _importance_lines(importance)
    lines += ["## Lineage", "", f"- code: `{code.get('git_commit')}` (uncommitted changes: {code.get('dirty')})",
              f"- config hash: `{lineage.get('config_hash')}`", f"- seed: {lineage.get('seed')}",
              f"- libraries: {', '.join(f'{k} {v}' for k, v in (lineage.get('libraries') or {}).items() if v)}",
              "", "## Training config", "", "```json", json.dumps(config, indent=2, sort_keys=True, default=str), "```", ""]
    return "\n".join(lines)
