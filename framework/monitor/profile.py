"""The feature profile a bundle carries: what its model inputs and predictions looked like on the
validation data, in a form later data can be compared with.

Only model inputs are profiled (after the feature transform: bucket proportions and category
indices), never raw values, so a profile holds no PII and no raw feature values.

    continuous   quantile bin edges of the reference values and the share in each bin (missing last)
    categorical  the top-k indices by frequency and their shares ("other" last), and for
                 categorified columns the share of out-of-vocabulary indices
    prediction   quantile bin edges of the reference scores and the share in each bin

Example:
    >>> profile = build_profile(pipeline, arrays, scores)           # doctest: +SKIP
    >>> sorted(profile)                                             # doctest: +SKIP
    ['categorical', 'continuous', 'format', 'format_version', 'prediction', 'rows']
"""

from __future__ import annotations

import numpy as np

__all__ = ["build_profile", "bin_shares", "category_shares", "oov_ranges", "PROFILE_FORMAT"]

PROFILE_FORMAT = "raylane.feature_profile"
PROFILE_VERSION = 1
BINS = 10
TOP_K = 20


def quantile_edges(values: np.ndarray, bins: int = BINS) -> list[float]:
    """The inner quantile edges of the finite values, duplicates dropped (few-valued columns get fewer bins)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    return [float(e) for e in np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))]


def bin_shares(values: np.ndarray, edges: list[float]) -> list[float]:
    """Share of values per bin (`searchsorted(edges, x, side="right")`), then the share missing (NaN)."""
    values = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(values)
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), values[~missing], side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(np.float64)
    counts = np.append(counts, missing.sum())
    return (counts / max(values.size, 1)).tolist()


def category_shares(indices: np.ndarray, top: list[int]) -> list[float]:
    """Share of each of the `top` indices, then the share of every other index."""
    indices = np.asarray(indices, dtype=np.int64)
    counts = [(indices == value).sum() for value in top]
    counts.append(indices.size - sum(counts))
    return (np.asarray(counts, dtype=np.float64) / max(indices.size, 1)).tolist()


def oov_ranges(pipeline) -> dict[str, list[int]]:
    """Output column → [first, end) of its out-of-vocabulary indices, for categorified columns."""
    ranges = {}
    for op in pipeline.ops:
        for column in op.writes():
            ranges.pop(column, None)  # the last op to write a column decides what its indices mean
        if op.op_name == "categorify":
            ranges.update({column: [1, 1 + op.num_oov_buckets] for column in op.columns})
    return ranges


def oov_share(indices: np.ndarray, bounds: list[int] | None) -> float | None:
    if bounds is None:
        return None
    indices = np.asarray(indices)
    return float(((indices >= bounds[0]) & (indices < bounds[1])).mean()) if indices.size else 0.0


def _top_indices(indices: np.ndarray, k: int) -> list[int]:
    values, counts = np.unique(np.asarray(indices, dtype=np.int64), return_counts=True)
    order = np.lexsort((values, -counts))  # count descending, then index ascending
    return [int(v) for v in values[order][:k]]


def build_profile(pipeline, arrays: dict, scores: np.ndarray, top_k: int = TOP_K) -> dict:
    """The profile of one reference sample: `arrays` as `pipeline.transform_to_arrays` gives them
    (continuous with NaN for missing), `scores` the model's predictions on the same rows."""
    schema = pipeline.output_schema
    ranges = oov_ranges(pipeline)
    continuous = {}
    for position, name in enumerate(schema.continuous):
        values = np.asarray(arrays["continuous"][:, position], dtype=np.float64)
        edges = quantile_edges(values)
        continuous[name] = {"edges": edges, "shares": bin_shares(values, edges)}
    categorical = {}
    for position, name in enumerate(schema.categorical):
        indices = np.asarray(arrays["categorical"][:, position])
        top = _top_indices(indices, top_k)
        categorical[name] = {"top": top, "shares": category_shares(indices, top), "oov_range": ranges.get(name),
                             "oov_share": oov_share(indices, ranges.get(name))}
    score_edges = quantile_edges(np.asarray(scores, dtype=np.float64))
    return {
        "format": PROFILE_FORMAT,
        "format_version": PROFILE_VERSION,
        "rows": int(len(scores)),
        "continuous": continuous,
        "categorical": categorical,
        "prediction": {"edges": score_edges, "shares": bin_shares(scores, score_edges)},
    }
