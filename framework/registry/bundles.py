"""Putting a model bundle into the registry: one MLflow run holding it, then a new version.

Example:
    >>> registered = register_trained_bundle("ctr", "runs/ctr-small/bundle", config=cfg_dict)  # doctest: +SKIP
    >>> registered.version, registered.alias                                                   # doctest: +SKIP
    ('3', 'candidate')
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from framework.registry.refs import check_name

__all__ = ["RegisteredBundle", "log_trained_bundle", "register_trained_bundle"]


@dataclass(frozen=True)
class RegisteredBundle:
    name: str
    version: str
    alias: str
    run_id: str
    lineage: dict = field(default_factory=dict, compare=False)


def _read(bundle: Path, name: str) -> dict:
    path = bundle / name
    return json.loads(path.read_text()) if path.is_file() else {}


def log_trained_bundle(run_name: str, bundle_dir: str | os.PathLike, *, config: Mapping[str, Any] | None = None,
                       metrics_by_epoch: list[dict] | None = None, kind: str = "train") -> tuple[str, dict, str]:
    """Log the bundle as one MLflow run (its config, per-epoch metrics, lineage tags, files).

    Returns (run id, the bundle's lineage, the sha256 of its manifest)."""
    from framework.models import _bundle_files as files
    from framework.registry.tracking import log_run

    bundle = Path(bundle_dir).absolute()
    lineage = _read(bundle, files.LINEAGE)
    metrics = _read(bundle, files.METRICS)
    history = metrics_by_epoch or [{k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}]
    manifest = files.sha256_file(bundle / files.MANIFEST)
    run_id = log_run(kind, run_name, config=config or {}, metrics_by_epoch=history, lineage=lineage,
                     artifacts={"bundle": bundle}, tags={"raylane.bundle_sha256": manifest})
    return run_id, lineage, manifest


def register_trained_bundle(name: str, bundle_dir: str | os.PathLike, *, config: Mapping[str, Any] | None = None,
                            metrics_by_epoch: list[dict] | None = None, kind: str = "train",
                            alias: str = "candidate") -> RegisteredBundle:
    """Log the bundle (see `log_trained_bundle`) and register it as a new version of `name`."""
    from framework.governance import AuditLog
    from framework.registry.versions import register_bundle

    check_name(name)
    run_id, lineage, manifest = log_trained_bundle(name, bundle_dir, config=config, metrics_by_epoch=metrics_by_epoch, kind=kind)
    tags = {"raylane.bundle_sha256": manifest, "raylane.config_hash": str(lineage.get("config_hash"))}
    version = register_bundle(name, run_id, tags=tags, alias=alias)
    data = (lineage.get("data") or {}).get("train") or {}
    AuditLog.default().append("register", "ok", model={"name": name, "version": version},
                              config_hash=lineage.get("config_hash"), data_hash=data.get("hash"),
                              details={"alias": alias, "run_id": run_id, "bundle_sha256": manifest})
    return RegisteredBundle(name, version, alias, run_id, lineage)
