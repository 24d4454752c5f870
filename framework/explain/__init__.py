"""Explanations: permutation importance of each raw input column, computed through the bundle's scorer.

For every raw column the pipeline reads, shuffle its values across the rows of a sample and score
again; the importance is the mean drop in AUC over seeded shuffles (and the increase of logloss).
Training writes explain.json and explain.png into every bundle; `raylane explain` does the same for
any data and any registered model, on Ray Data.

Example:
    >>> from framework.explain import ExplainSettings, explain_model, write_explanation
    >>> explanation = explain_model("ctr@prod", "data/valid", ExplainSettings(repeats=3))   # doctest: +SKIP
    >>> write_explanation(explanation, "reports/explain")                                   # doctest: +SKIP
"""

from framework.explain.importance import PermutationScorer, permutation_importance, summarize
from framework.explain.report import CHART_FILE, EXPLAIN_FILE, chart_png, importance_metrics, table_lines, write_explanation
from framework.explain.run import explain_model
from framework.explain.settings import ExplainSettings

__all__ = [
    "CHART_FILE", "EXPLAIN_FILE", "ExplainSettings", "PermutationScorer", "chart_png", "explain_model",
    "importance_metrics", "permutation_importance", "summarize", "table_lines", "write_explanation",
]
