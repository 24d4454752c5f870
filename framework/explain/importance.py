"""Permutation importance of the raw input columns: shuffle one column across the rows of a sample,
score again, and measure how much worse the scores got.

The work is a list of `Permutation`s (the unshuffled baseline, then every column × repeat); a
`PermutationScorer` runs any of them on its own, so the same class runs in-process (training) and
in Ray Data actors (`raylane explain`), and `summarize` turns the results into `explain.json`:

    {"metric": "auc", "repeats": R, "rows": N, "seed": S, "baseline": {"auc": .., "logloss": ..},
     "columns": [{"column", "importance", "std", "logloss_importance", "logloss_std", "inputs"}, ...]}

`importance` is the mean drop in AUC over the repeats and `std` its standard deviation (ddof 0, as
sklearn's); `logloss_importance` the mean increase of logloss (positive: worse without the column);
`inputs` the model inputs the column feeds. Columns are sorted by importance, largest first.
A raw column that feeds several model inputs (an indicator, a target encoding, a cross) is shuffled
once, so all of them move together.

Example:
    >>> explanation = permutation_importance(BundleScorer(path).score, sample, "label",
    ...                                      ["I1", "C1"], ExplainSettings(repeats=5))   # doctest: +SKIP
    >>> explanation["columns"][0]["column"]                                               # doctest: +SKIP
    'C1'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pyarrow as pa

from framework.errors import DataError
from framework.explain._shuffles import shuffle_orders
from framework.explain.settings import ExplainSettings

__all__ = ["Permutation", "PermutationScorer", "permutations", "summarize", "permutation_importance", "model_inputs_fed"]

METRIC = "auc"


@dataclass(frozen=True)
class Permutation:
    """One scoring of the sample: `column` shuffled with the orders of `repeat`; None is the baseline."""

    column: str | None = None
    repeat: int = 0


def permutations(columns: Iterable[str], repeats: int) -> list[Permutation]:
    return [Permutation(), *(Permutation(column, repeat) for column in columns for repeat in range(repeats))]


def sample_labels(sample: pa.Table, label: str) -> np.ndarray:
    """The labels as float64 0/1; DataError when missing, null, or of one class only (no AUC then)."""
    if label not in sample.column_names:
        raise DataError(f"explain: the data has no label column {label!r}; found {sample.column_names[:12]}")
    if sample[label].null_count:
        raise DataError(f"explain: label {label!r} has {sample[label].null_count} null value(s); drop or fill them first")
    labels = sample[label].to_numpy().astype(np.float64)
    if labels.size < 2 or labels.min() == labels.max():
        raise DataError(f"explain: the {labels.size} sampled rows of {label!r} hold one class only; AUC needs clicks and non-clicks")
    return labels


class PermutationScorer:
    """Scores `sample` under any permutation with `score` (raw Arrow rows → P(label = 1)).

    Builds the shuffle orders once; holds no per-call state."""

    def __init__(self, score: Callable[[pa.Table], np.ndarray], sample: pa.Table, label: str, settings: ExplainSettings):
        from framework.train.evaluation import logloss

        self.score, self.sample, self._logloss = score, sample, logloss
        self.labels = sample_labels(sample, label)
        self.orders = shuffle_orders(sample.num_rows, settings.repeats, settings.seed)

    def shuffled(self, permutation: Permutation) -> pa.Table:
        if permutation.column is None:
            return self.sample
        index = self.sample.schema.get_field_index(permutation.column)
        if index < 0:
            raise DataError(f"explain: the data has no column {permutation.column!r}, which the model reads")
        values = self.sample.column(index).take(pa.array(self.orders[permutation.repeat]))
        return self.sample.set_column(index, self.sample.schema.field(index), values)

    def run(self, permutation: Permutation) -> dict:
        from framework.metrics import roc_auc

        scores = np.asarray(self.score(self.shuffled(permutation)), dtype=np.float64)
        return {"column": permutation.column, "repeat": permutation.repeat,
                "auc": roc_auc(self.labels, scores), "logloss": self._logloss(self.labels, scores)}


def _column_row(column: str, baseline: dict, runs: list[dict], inputs: list[str]) -> dict:
    drops = baseline["auc"] - np.array([run["auc"] for run in runs])
    increases = np.array([run["logloss"] for run in runs]) - baseline["logloss"]
    return {"column": column, "importance": float(drops.mean()), "std": float(drops.std()),
            "logloss_importance": float(increases.mean()), "logloss_std": float(increases.std()), "inputs": inputs}


def summarize(results: Iterable[dict], settings: ExplainSettings, rows: int, feeds: dict[str, list[str]] | None = None) -> dict:
    """The explain.json document from the results of every permutation (in any order)."""
    by_column: dict[str | None, list[dict]] = {}
    for result in results:
        by_column.setdefault(result["column"], []).append(result)
    baseline = by_column.pop(None)[0]
    columns = [_column_row(column, baseline, sorted(runs, key=lambda r: r["repeat"]), (feeds or {}).get(column, []))
               for column, runs in by_column.items()]
    return {
        "metric": METRIC, "repeats": settings.repeats, "rows": int(rows), "seed": settings.seed,
        "baseline": {"auc": baseline["auc"], "logloss": baseline["logloss"]},
        "columns": sorted(columns, key=lambda row: (-row["importance"], row["column"])),
    }


def model_inputs_fed(pipeline) -> dict[str, list[str]]:
    """Raw column → the model inputs it feeds (`C1` → `["C1", "C1_x_C4"]`), in the model's input order."""
    from framework.monitor.drift import input_sources

    fed: dict[str, list[str]] = {}
    for model_input, columns in input_sources(pipeline).items():
        for column in columns:
            fed.setdefault(column, []).append(model_input)
    return fed


def permutation_importance(score: Callable[[pa.Table], np.ndarray], sample: pa.Table, label: str, columns: list[str],
                           settings: ExplainSettings = ExplainSettings(), feeds: dict[str, list[str]] | None = None) -> dict:
    """Every permutation in this process, one after the other; see the module docstring."""
    scorer = PermutationScorer(score, sample, label, settings)
    return summarize(map(scorer.run, permutations(columns, settings.repeats)), settings, sample.num_rows, feeds)
