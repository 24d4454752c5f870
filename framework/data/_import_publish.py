"""Where an import is built, and how it is published: a staging directory beside the output, then one
atomic swap into place, as batch scoring publishes a run.

    OUT.parent/.OUT.import-staging/     the import being written (removed by the next import)
    OUT/                                the published import: Parquet, contract.yaml, _rejected/,
                                        _import.json (what was imported) and, written last, _SUCCESS

An existing OUT is replaced only when an import wrote it (it has `_import.json`), or with `force`.
When OUT exists, it and the staging directory are exchanged with one renameat2(RENAME_EXCHANGE)
call on Linux, so a reader sees the old import or the new one, never neither; elsewhere the old one
is renamed aside first.

Example:
    >>> staging = prepare_staging(Path("data/criteo"), force=False)
    >>> ...                                                      # write Parquet into staging
    >>> publish(staging, Path("data/criteo"), manifest)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from framework.errors import DataError

__all__ = ["MARKER", "SUCCESS", "prepare_staging", "publish", "staging_directory"]

MARKER = "_import.json"
SUCCESS = "_SUCCESS"


def staging_directory(out: Path) -> Path:
    return out.parent / f".{out.name}.import-staging"


def prepare_staging(out: Path, force: bool) -> Path:
    """A fresh, empty staging directory beside `out`; refuses an `out` that no import wrote."""
    if out.exists() and not force and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise DataError(f"{out}: exists and was not written by `raylane data import`; choose a new or empty --out, "
                        "or pass --force to replace it")
    staging = staging_directory(out)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def publish(staging: Path, out: Path, manifest: dict) -> None:
    """Write `_import.json` and `_SUCCESS` into `staging`, then move it into place as `out`."""
    from framework.durable_files import exchange_directories, fsync_directory, write_durably  # as scoring commits

    write_durably(staging / MARKER, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    write_durably(staging / SUCCESS, b"")
    fsync_directory(staging)
    if not out.exists() and not out.is_symlink():
        os.rename(staging, out)
    elif exchange_directories(staging, out):
        _remove(staging)  # the previous output, now under the staging name
    else:
        aside = out.parent / f".{out.name}.import-previous"
        _remove(aside)
        os.rename(out, aside)
        os.rename(staging, out)
        _remove(aside)
    fsync_directory(out.parent)
