"""Drift: new data and its predictions against a bundle's feature profile.

PSI (population stability index) per model input and for the predictions,
    PSI = Σ (current − reference) · ln(current / reference)
over the profile's bins, with each share floored at 1e-4 so empty bins stay finite; and, for
categorified columns, the share of out-of-vocabulary indices (values never seen in training, or
rarer there than `freq_threshold`) against the same share on the reference data.

When the bundle was explained (explain.json), each breach of a model input also names the raw
column(s) behind it and their permutation importance (the largest, when several feed it), so a
breach on a column the model barely uses reads as such.

Example:
    >>> report = drift_report(profile, pipeline, arrays, scores)      # doctest: +SKIP
    >>> report["breaches"]                                            # doctest: +SKIP
    [{'feature': 'I5', 'metric': 'psi', 'value': 0.41, 'threshold': 0.2}]
    >>> add_importance(report, input_sources(pipeline), {"I5": 0.012})["breaches"][0]    # doctest: +SKIP
    {'feature': 'I5', 'metric': 'psi', 'value': 0.41, 'threshold': 0.2, 'columns': ['I5'], 'importance': 0.012}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from framework.errors import ArtifactError
from framework.monitor.profile import PROFILE_FORMAT, bin_shares, category_shares, oov_share

__all__ = ["DriftThresholds", "psi", "drift_report", "input_sources", "add_importance"]

SHARE_FLOOR = 1e-4


@dataclass(frozen=True)
class DriftThresholds:
    """A breach is a PSI above `psi`, or an out-of-vocabulary share that grew by more than `oov_share_increase`."""

    psi: float = 0.2
    prediction_psi: float = 0.2
    oov_share_increase: float = 0.05


def psi(reference: list[float], current: list[float]) -> float:
    expected = np.maximum(np.asarray(reference, dtype=np.float64), SHARE_FLOOR)
    actual = np.maximum(np.asarray(current, dtype=np.float64), SHARE_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _check_profile(profile: dict, pipeline) -> None:
    if not isinstance(profile, dict) or profile.get("format") != PROFILE_FORMAT:
        raise ArtifactError(f"feature profile: expected format {PROFILE_FORMAT!r}; retrain to get a bundle with profile.json")
    schema = pipeline.output_schema
    if set(profile["continuous"]) != set(schema.continuous) or set(profile["categorical"]) != set(schema.categorical):
        raise ArtifactError("feature profile: its columns differ from the pipeline's outputs; the bundle is inconsistent")


def _feature_rows(profile: dict, schema, arrays: dict, thresholds: DriftThresholds) -> tuple[dict, list[dict]]:
    """Rows in the pipeline's output order (the profile's JSON keys are sorted)."""
    features, breaches = {}, []
    for position, name in enumerate(schema.continuous):
        reference = profile["continuous"][name]
        value = psi(reference["shares"], bin_shares(arrays["continuous"][:, position], reference["edges"]))
        features[name] = {"kind": "continuous", "psi": value}
        if value > thresholds.psi:
            breaches.append({"feature": name, "metric": "psi", "value": value, "threshold": thresholds.psi})
    for position, name in enumerate(schema.categorical):
        reference = profile["categorical"][name]
        indices = arrays["categorical"][:, position]
        value = psi(reference["shares"], category_shares(indices, reference["top"]))
        row = {"kind": "categorical", "psi": value}
        if value > thresholds.psi:
            breaches.append({"feature": name, "metric": "psi", "value": value, "threshold": thresholds.psi})
        if reference.get("oov_range") is not None:
            row.update(oov_share=oov_share(indices, reference["oov_range"]), reference_oov_share=reference["oov_share"])
            growth = row["oov_share"] - reference["oov_share"]
            if growth > thresholds.oov_share_increase:
                breaches.append({"feature": name, "metric": "oov_share_increase", "value": growth,
                                 "threshold": thresholds.oov_share_increase})
        features[name] = row
    return features, breaches


def drift_report(profile: dict, pipeline, arrays: dict, scores: np.ndarray,
                 thresholds: DriftThresholds = DriftThresholds()) -> dict:
    """Compare one sample (`arrays` from `transform_to_arrays`, NaN for missing; `scores` on the
    same rows) with the profile. Returns the JSON-ready report, breaches listed by feature."""
    _check_profile(profile, pipeline)
    features, breaches = _feature_rows(profile, pipeline.output_schema, arrays, thresholds)
    prediction = psi(profile["prediction"]["shares"], bin_shares(scores, profile["prediction"]["edges"]))
    if prediction > thresholds.prediction_psi:
        breaches.append({"feature": "prediction", "metric": "psi", "value": prediction, "threshold": thresholds.prediction_psi})
    return {
        "rows": int(len(scores)),
        "reference_rows": profile["rows"],
        "thresholds": asdict(thresholds),
        "features": features,
        "prediction": {"psi": prediction},
        "breaches": sorted(breaches, key=lambda b: -b["value"]),
        "drifted": bool(breaches),
    }


def _derived_from(written: str, reads: list[str]) -> list[str]:
    """The columns an op output is computed from, by raylane's naming: in place (`C1`), a cross
    (`C1_x_C4`), a suffix (`I1_missing`, `C2_te`, `C2_count`); otherwise, to be safe, all it reads."""
    if written in reads:
        return [written]
    members = written.split("_x_")
    if len(members) > 1 and all(member in reads for member in members):
        return members
    prefixes = [read for read in reads if written.startswith(f"{read}_")]
    return [max(prefixes, key=len)] if prefixes else list(reads)


def input_sources(pipeline) -> dict[str, list[str]]:
    """Model input → the raw columns it is computed from, following the ops in order (`C1_x_C4` →
    `["C1", "C4"]`, `I1_missing` → `["I1"]`). Model inputs in the model's order."""
    sources: dict[str, list[str]] = {}
    for op in pipeline.ops:
        reads = op.reads()
        written = {name: list(dict.fromkeys(raw for read in _derived_from(name, reads) for raw in sources.get(read, [read])))
                   for name in op.writes()}
        sources.update(written)
    schema = pipeline.output_schema
    return {name: sources.get(name, [name]) for name in [*schema.continuous, *schema.categorical]}


def add_importance(report: dict, sources: dict[str, list[str]], importance: dict[str, float]) -> dict:
    """Each breach of a model input gets `columns` (its raw columns) and `importance` (the largest of
    theirs, None when none was explained); the prediction's breach is left as it is."""
    for breach in report["breaches"]:
        if breach["feature"] in sources:
            columns = sources[breach["feature"]]
            known = [importance[column] for column in columns if column in importance]
            breach.update(columns=columns, importance=max(known) if known else None)
    return report
