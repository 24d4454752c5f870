"""What a finished training run adds to its bundle and the registry: the feature profile, the
permutation importance of each raw column (explain.json) and the model card, all from the validation
data, then a registered version with the alias `candidate` and the importances as MLflow metrics.

Example:
    >>> documents = bundle_documents(pipeline, model, name="ctr", config=cfg_dict, valid_source=cfg.data.valid,
    ...                              label="label", metrics=metrics, lineage=lineage, card=cfg.card,
    ...                              explain=cfg.explain)                                            # doctest: +SKIP
    >>> sorted(documents)                                                                             # doctest: +SKIP
    ['explain.json', 'explain.png', 'model_card.md', 'profile.json']
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

__all__ = ["bundle_documents", "explain_documents", "raw_scorer", "publish_run", "REFERENCE_ROWS"]

REFERENCE_ROWS = 200_000  # the profile and the slices need a sample, not the whole validation set


def _validation_table(source, columns: list[str]) -> pa.Table:
    from framework.data import read_table

    return read_table(source, columns=list(dict.fromkeys(columns)))


def _predict(model, inputs: dict) -> np.ndarray:
    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(inputs["continuous"]), torch.from_numpy(inputs["categorical"]))
    return torch.sigmoid(logits.double()).numpy()


def raw_scorer(pipeline, model):
    """Raw rows -> P(label = 1) for a model not yet saved: what `BundleScorer.score` computes once it
    is (`model_inputs`, the model in eval mode on the CPU, the sigmoid in float64)."""
    from framework.models.inputs import model_inputs

    return lambda table: _predict(model, model_inputs(pipeline, table))


def explain_documents(pipeline, model, valid: pa.Table, label: str, explain=None) -> dict:
    """{"explain.json": permutation importance on a seeded sample of `valid`, "explain.png": its chart}
    ({} when disabled).

    `explain` is the config's `explain:` section (enabled, max_rows, repeats, seed), or None for
    the defaults of `framework.explain.ExplainSettings`."""
    from framework.explain import EXPLAIN_FILE, ExplainSettings, permutation_importance
    from framework.explain.report import CHART_FILE, chart_png
    from framework.explain.importance import model_inputs_fed
    from framework.features._plan import raw_inputs
    from framework.monitor.check import seeded_sample

    settings = ExplainSettings.of(explain)
    if not settings.enabled:
        return {}
    sample, columns = seeded_sample(valid, settings.max_rows, settings.seed), raw_inputs(pipeline.ops)
    print(f"[train] permutation importance: {len(columns)} column(s) x {settings.repeats} shuffle(s) on "
          f"{sample.num_rows:,} validation rows", flush=True)
    explanation = permutation_importance(raw_scorer(pipeline, model), sample, label, columns, settings,
                                         feeds=model_inputs_fed(pipeline))
    return {EXPLAIN_FILE: explanation, CHART_FILE: chart_png(explanation)}


def bundle_documents(pipeline, model, *, name: str, config: dict, valid_source, label: str, metrics: dict,
                     lineage: dict, card=None, explain=None) -> dict:
    """{"profile.json": the feature profile, "explain.json": the importances, "model_card.md": the card}
    for a trained model.

    `card` is the config's `card:` section (slices, intended_use, limitations), or None; `explain`
    its `explain:` section (see `explain_documents`).
    """
    from framework.explain import EXPLAIN_FILE
    from framework.models.inputs import finite_inputs
    from framework.monitor import build_profile
    from framework.monitor.check import seeded_sample
    from framework.registry.card import model_card, slice_metrics
    from framework.registry.tracking import redact_secrets
    from framework.features._plan import raw_inputs

    slices = list(card.slices) if card else []
    valid = _validation_table(valid_source, [*raw_inputs(pipeline.ops), label, *slices])
    table = seeded_sample(valid, REFERENCE_ROWS)
    arrays = pipeline.transform_to_arrays(table, passthrough=False)
    scores = _predict(model, finite_inputs(arrays))
    explained = explain_documents(pipeline, model, valid, label, explain)
    card_text = model_card(
        name, redact_secrets(config), metrics, lineage, slice_metrics(table, scores, label, slices),
        intended_use=card.intended_use if card else "", limitations=card.limitations if card else "",
        importance=explained.get(EXPLAIN_FILE),
    )
    return {"profile.json": build_profile(pipeline, arrays, scores), **explained, "model_card.md": card_text}


def _log_importance(run_id: str, bundle: Path) -> None:
    """The bundle's importances as `importance.<column>` metrics of its MLflow run, and their chart
    as the artifact explain/explain.png (when the bundle was explained)."""
    from framework.explain import EXPLAIN_FILE
    from framework.explain.tracking import log_importance

    path = bundle / EXPLAIN_FILE
    if path.is_file():
        log_importance(run_id, json.loads(path.read_text()))


def publish_run(cfg, result):
    """Log the run to MLflow (config, per-epoch metrics, lineage, the bundle as artifacts, the
    importances), register it under `registry.name` with its alias when one is set, and write the run
    to the audit log.
    Returns the result with its model version (None when unregistered)."""
    import dataclasses

    from framework.governance import AuditLog
    from framework.registry.bundles import log_trained_bundle, register_trained_bundle
    from framework.train.history import read_history

    version = None
    logged = {"config": cfg.model_dump(mode="json"), "metrics_by_epoch": read_history(result.run_directory)}
    if cfg.registry.name:
        registered = register_trained_bundle(cfg.registry.name, result.bundle, alias=cfg.registry.alias, **logged)
        version, lineage, run_id = registered.version, registered.lineage, registered.run_id
        print(f"[train] registered {registered.name}/{version} as @{registered.alias}", flush=True)
    else:
        run_id, lineage, _ = log_trained_bundle(cfg.run.name, result.bundle, **logged)
        print(f"[train] logged to MLflow as run {run_id} (set registry.name to register a version)", flush=True)
    _log_importance(run_id, Path(result.bundle))
    best = result.metrics.get("best", {})
    AuditLog.default().append(
        "train", "ok", model={"name": cfg.registry.name or cfg.run.name, "version": version or "unregistered"},
        config_hash=lineage.get("config_hash"), data_hash=(lineage.get("data") or {}).get("train", {}).get("hash"),
        details={"run": cfg.run.name, "bundle": str(result.bundle), "auc": best.get("auc"), "epochs": best.get("epoch")},
    )
    return dataclasses.replace(result, model_version=version)
