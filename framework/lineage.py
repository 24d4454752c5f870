"""Lineage: which code, config and data produced an artifact.

Example:
    >>> lineage = collect_lineage(config_dict, {"train": "data/train"}, seed=0)
    >>> sorted(lineage)
    ['code', 'config_hash', 'data', 'libraries', 'seed']
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
from pathlib import Path

from framework.data.parquet_io import list_parquet_files, open_parquet

__all__ = ["collect_lineage", "code_version", "config_hash", "data_snapshot"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_LIBRARIES = ("raylane", "ray", "torch", "pyarrow", "numpy", "optuna", "mlflow-skinny", "safetensors")


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def code_version() -> dict:
    """The git commit of the code, and whether the work tree had uncommitted changes."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "dirty": bool(status) if status is not None else None}


def config_hash(config: dict) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def data_snapshot(source) -> dict:
    """A hash of the Parquet file list with sizes, row counts and schema (no data is read)."""
    files = list_parquet_files(source)
    entries = []
    for path in files.paths:
        parquet_file = open_parquet(files, path)
        entries.append(
            {
                "path": files.display(path),
                "size": files.filesystem.get_file_info(path).size,
                "rows": parquet_file.metadata.num_rows,
                "schema": str(parquet_file.schema_arrow),
            }
        )
    digest = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
    return {"hash": digest, "files": len(entries), "rows": sum(e["rows"] for e in entries)}


def _versions() -> dict:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def collect_lineage(config: dict, sources: dict[str, object], seed: int) -> dict:
    return {
        "code": code_version(),
        "config_hash": config_hash(config),
        "data": {name: data_snapshot(source) for name, source in sources.items()},
        "libraries": _versions(),
        "seed": seed,
    }
