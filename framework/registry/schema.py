"""MLflow stamps its schema revision on a store and refuses one stamped by another release: what to
tell the user then (upgrade an older store in place; a newer one cannot be downgraded).

Example:
    >>> schema_advice("sqlite:///h/mlflow/mlflow.db", "Detected out-of-date database schema (found "
    ...               "version f4a9b2c7d1e6, but expected dc11669786a5)", "3.17.2")       # doctest: +SKIP
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["schema_advice"]

_SCHEMA_ERROR = re.compile(r"out-of-date database schema \(found version (\w+), but expected (\w+)\)")


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError
    from mlflow.store.db.utils import _get_alembic_config  # what `mlflow db upgrade` migrates with

    try:
        return ScriptDirectory.from_config(_get_alembic_config("")).get_revision(revision) is not None
    except CommandError:
        return False


def schema_advice(uri: str, server_output: str, version: str) -> str | None:
    """What to do about a store whose schema revision the server refused, or None if that was not it."""
    match = _SCHEMA_ERROR.search(server_output)
    if match is None:
        return None
    found, expected = match.groups()
    if not _known_revision(found):
        return (f"{uri}: this MLflow store was written by a newer MLflow than the installed {version} (schema revision "
                f"{found}; {version} knows up to {expected}), and MLflow cannot downgrade a store. Open it with the "
                "mlflow and mlflow-skinny release that wrote it, or give raylane a new store (another RAYLANE_HOME)")
    mlflow = Path(sys.executable).with_name("mlflow")
    upgrade = f"{mlflow if mlflow.exists() else 'mlflow'} db upgrade '{uri}'"
    path = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
    backup = f"cp '{path}' '{path}.bak'" if path else "back up the database with its own tools"
    return (f"{uri}: this MLflow store was written by an older MLflow (schema revision {found}; mlflow {version} "
            f"expects {expected}). Back it up, then upgrade it in place (afterwards only mlflow {version} or newer "
            f"opens it, raylane included):\n  {backup}\n  {upgrade}")
