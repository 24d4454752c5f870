"""What a finished training run adds to its bundle and the registry: the feature profile and the
model card (both from the validation data), then a registered version with the alias `candidate`.

Example:
    >>> documents = bundle_documents(pipeline, model, name="ctr", config=cfg_dict, valid_source=cfg.data.valid,
    ...                              label="label", metrics=metrics, lineage=lineage, card=cfg.card)  # doctest: +SKIP
    >>> sorted(documents)                                                                             # doctest: +SKIP
    ['model_card.md', 'profile.json']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

__all__ = ["bundle_documents", "publish_run", "REFERENCE_ROWS"]

REFERENCE_ROWS = 200_000  # the profile and the slices need a sample, not the whole validation set


def _reference_sample(source, columns: list[str]) -> pa.Table:
    from framework.data import read_table
    from framework.monitor.check import seeded_sample

    return seeded_sample(read_table(source, columns=list(dict.fromkeys(columns))), REFERENCE_ROWS)


def _predict(model, inputs: dict) -> np.ndarray:
    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(inputs["continuous"]), torch.from_numpy(inputs["categorical"]))
    return torch.sigmoid(logits.double()).numpy()


def bundle_documents(pipeline, model, *, name: str, config: dict, valid_source, label: str, metrics: dict,
                     lineage: dict, card=None) -> dict:
    """{"profile.json": the feature profile, "model_card.md": the card} for a trained model.

    `card` is the config's `card:` section (slices, intended_use, limitations), or None.
    """
    from framework.models.inputs import finite_inputs
    from framework.monitor import build_profile
    from framework.registry.card import model_card, slice_metrics
    from framework.registry.tracking import redact_secrets
    from framework.features._plan import raw_inputs

    slices = list(card.slices) if card else []
    table = _reference_sample(valid_source, [*raw_inputs(pipeline.ops), label, *slices])
    arrays = pipeline.transform_to_arrays(table, passthrough=False)
    scores = _predict(model, finite_inputs(arrays))
    return {
        "profile.json": build_profile(pipeline, arrays, scores),
        "model_card.md": model_card(
            name, redact_secrets(config), metrics, lineage, slice_metrics(table, scores, label, slices),
            intended_use=card.intended_use if card else "", limitations=card.limitations if card else "",
        ),
    }


def publish_run(cfg, result):
    """Log the run to MLflow (config, per-epoch metrics, lineage, the bundle as artifacts), register it
    under `registry.name` with its alias when one is set, and write the run to the audit log.
    Returns the result with its model version (None when unregistered)."""
    import dataclasses

    from framework.governance import AuditLog
    from framework.registry.bundles import log_trained_bundle, register_trained_bundle
    from framework.train.history import read_history

    version = None
    logged = {"config": cfg.model_dump(mode="json"), "metrics_by_epoch": read_history(result.run_directory)}
    if cfg.registry.name:
        registered = register_trained_bundle(cfg.registry.name, result.bundle, alias=cfg.registry.alias, **logged)
        version, lineage = registered.version, registered.lineage
        print(f"[train] registered {registered.name}/{version} as @{registered.alias}", flush=True)
    else:
        run_id, lineage, _ = log_trained_bundle(cfg.run.name, result.bundle, **logged)
        print(f"[train] logged to MLflow as run {run_id} (set registry.name to register a version)", flush=True)
    best = result.metrics.get("best", {})
    AuditLog.default().append(
        "train", "ok", model={"name": cfg.registry.name or cfg.run.name, "version": version or "unregistered"},
        config_hash=lineage.get("config_hash"), data_hash=(lineage.get("data") or {}).get("train", {}).get("hash"),
        details={"run": cfg.run.name, "bundle": str(result.bundle), "auc": best.get("auc"), "epochs": best.get("epoch")},
    )
    return dataclasses.replace(result, model_version=version)
