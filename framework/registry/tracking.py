"""Logging runs to MLflow: parameters, per-epoch metrics, lineage tags and the bundle as artifacts.

Parameters are the flattened job config with secrets redacted (a `hash_bucket` salt, tokens); they
hold column names and settings, never data values, so no PII reaches the tracking store.

Example:
    >>> run_id = log_run("train", "ctr-small", config=cfg_dict, metrics_by_epoch=[{"auc": 0.7}],
    ...                  lineage=lineage, artifacts={"bundle": "runs/ctr-small/bundle"})    # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

__all__ = ["flatten_params", "lineage_tags", "log_run", "redact_secrets", "REDACTED"]

REDACTED = "<redacted>"
_SECRET_KEYS = ("salt", "secret", "token", "password", "key_file")
_PARAM_LIMIT = 6000  # MLflow's longest parameter value (8000 in new stores; 6000 is safe everywhere)


def _is_secret(key) -> bool:
    return any(secret in str(key).lower() for secret in _SECRET_KEYS)


def redact_secrets(value: Any) -> Any:
    """The config with every secret-looking key's value replaced (salts, tokens, passwords)."""
    if isinstance(value, Mapping):
        return {k: REDACTED if _is_secret(k) else redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(item) for item in value]
    return value


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"optim": {"lr": 0.1}}` → `{"optim.lr": "0.1"}`; lists of mappings get their index."""
    params: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if _is_secret(key):
            params[name] = REDACTED
        elif isinstance(value, Mapping):
            params.update(flatten_params(value, f"{name}."))
        elif isinstance(value, list) and any(isinstance(item, Mapping) for item in value):
            for index, item in enumerate(value):
                params.update(flatten_params(item, f"{name}.{index}.") if isinstance(item, Mapping) else {f"{name}.{index}": str(item)})
        else:
            params[name] = str(value)[:_PARAM_LIMIT]
    return params


def lineage_tags(lineage: Mapping[str, Any]) -> dict[str, str]:
    """The lineage as `raylane.*` tags: git commit and dirty flag, config hash, data snapshot hashes, seed."""
    code = lineage.get("code") or {}
    tags = {
        "raylane.git_commit": str(code.get("git_commit")),
        "raylane.git_dirty": str(code.get("dirty")),
        "raylane.config_hash": str(lineage.get("config_hash")),
        "raylane.seed": str(lineage.get("seed")),
    }
    for split, snapshot in (lineage.get("data") or {}).items():
        if isinstance(snapshot, Mapping):
            tags[f"raylane.data.{split}.hash"] = str(snapshot.get("hash"))
            tags[f"raylane.data.{split}.rows"] = str(snapshot.get("rows"))
    return tags


def _metrics(metrics_by_epoch: Iterable[Mapping[str, Any]]):
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    for step, row in enumerate(metrics_by_epoch, start=1):
        for key, value in row.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
                yield Metric(key=key, value=float(value), timestamp=now, step=int(row.get("epoch", step)))


def log_run(kind: str, name: str, *, config: Mapping[str, Any], metrics_by_epoch: Iterable[Mapping[str, Any]] = (),
            lineage: Mapping[str, Any] | None = None, artifacts: Mapping[str, str | os.PathLike] | None = None,
            tags: Mapping[str, str] | None = None) -> str:
    """Log one finished run (kind: train, sweep-trial, score) and return its MLflow run id."""
    from mlflow.entities import Param

    from framework.registry.store import experiment_id, mlflow_client

    client = mlflow_client()
    all_tags = {"raylane.kind": kind, **lineage_tags(lineage or {}), **(tags or {})}
    run = client.create_run(experiment_id(client), run_name=name, tags=all_tags)
    run_id = run.info.run_id
    params = [Param(k, v) for k, v in flatten_params(config).items()]
    metrics = list(_metrics(metrics_by_epoch))
    for start in range(0, len(params), 100):  # a batch takes at most 100 parameters and 1000 metrics
        client.log_batch(run_id, params=params[start:start + 100])
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    for artifact_path, directory in (artifacts or {}).items():
        client.log_artifacts(run_id, os.fspath(directory), artifact_path=artifact_path)
    client.set_terminated(run_id)
    return run_id
