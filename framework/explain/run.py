"""Explaining a registered model or a bundle on any Parquet data, on Ray Data (`raylane explain`).

The driver resolves the model (`name@alias`, `name/version` or a bundle directory), reads a seeded
sample with Ray Data (only the row groups holding picked rows), and hands the permutations to a Ray
Data actor pool that scores them through each actor's `BundleScorer`. The sample and the shuffles
are those training uses, so on the validation data with the same settings the numbers equal the
bundle's own explain.json.

Example:
    >>> explanation = explain_model("ctr@prod", "data/day=2026-01-09", ExplainSettings(repeats=5))   # doctest: +SKIP
    >>> [row["column"] for row in explanation["columns"][:3]]                                          # doctest: +SKIP
    ['C1', 'I10', 'C2']
"""

from __future__ import annotations

import os

from framework.errors import DataError
from framework.explain.importance import model_inputs_fed, permutations, summarize
from framework.explain.settings import ExplainSettings

__all__ = ["explain_model", "label_column"]


def label_column(bundle, label: str | None) -> str:
    """`label` when given, else the column with the role `label` in the bundle's contract."""
    if label:
        return label
    if bundle.contract_path is not None:
        from framework.data import load_contract

        found = load_contract(bundle.contract_path).role_of("label")
        if found:
            return found
    raise DataError(f"{bundle.directory}: the bundle's contract names no label column; pass --label")


def explain_model(model: str | os.PathLike, data, settings: ExplainSettings = ExplainSettings(), *, where=None,
                  label: str | None = None, actors: int | None = None) -> dict:
    """explain.json for `model` on `data` (one partition with `where`), plus the model's identity."""
    from framework.data import list_parquet_files, load_contract
    from framework.explain._pool import run_permutations
    from framework.explain._sample import read_sample
    from framework.ray_session import ensure_ray
    from framework.score.scorer import BundleScorer

    scorer = BundleScorer(model)
    bundle = scorer.bundle
    label = label_column(bundle, label)
    types = load_contract(bundle.contract_path).arrow_schema() if bundle.contract_path is not None else None
    files = list_parquet_files(data, where, types)
    ensure_ray()
    sample = read_sample(files, list(dict.fromkeys([*scorer.input_columns, label])), settings.max_rows, settings.seed)
    work = permutations(scorer.input_columns, settings.repeats)
    results = run_permutations(str(bundle.directory), sample, label, settings, work, actors)
    explanation = summarize(results, settings, sample.num_rows, model_inputs_fed(bundle.pipeline))
    explanation["model"] = {"name": scorer.identity.name, "version": scorer.identity.version}
    return explanation
