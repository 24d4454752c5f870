"""Publishing a staged run in one atomic step, and trusting only committed runs.

Publishing writes `manifest.json` (every file with rows and sha256, the model, the input snapshot,
the code version) and then `_SUCCESS` into the staged run directory, and moves that directory into
place as OUTPUT/run_date=YYYY-MM-DD. When a committed run is already there the two directories are
exchanged with one `renameat2(RENAME_EXCHANGE)` call (Linux), so a reader sees the old run or the new
one, never neither and never a mix. Where the kernel lacks it, the old run is renamed aside first:
a reader may then briefly find no run, but never a partial one.

Example:
    >>> commit_run(area, final_dir, manifest)                                  # doctest: +SKIP
    >>> verify_run("scores/run_date=2026-01-04").ok                            # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from framework.durable_files import exchange_directories, fsync_directory, move_into_place, write_durably
from framework.score._staging import StagingArea

__all__ = ["MANIFEST", "SUCCESS", "commit_run", "committed_manifest", "exchange_directories"]

MANIFEST = "manifest.json"
SUCCESS = "_SUCCESS"
FORMAT = "raylane-scores"
FORMAT_VERSION = 1


def commit_run(area: StagingArea, final: Path, manifest: dict) -> None:
    """Write the manifest and _SUCCESS into the staged run, then publish it as `final`."""
    body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    write_durably(area.run / MANIFEST, body)
    write_durably(area.run / SUCCESS, b"")
    fsync_directory(area.run)
    area.discard_ledger()  # from the move on, area.run may hold the previous run's files
    aside = area.root / "previous"
    move_into_place(area.run, final, aside)
    shutil.rmtree(area.run, ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)
    area.remove()


def committed_manifest(run_dir: str | os.PathLike) -> dict | None:
    """The manifest of a committed run, or None when `run_dir` holds no committed run."""
    run_dir = Path(run_dir)
    if not (run_dir / SUCCESS).is_file() or not (run_dir / MANIFEST).is_file():
        return None
    manifest = json.loads((run_dir / MANIFEST).read_text())
    return manifest if manifest.get("format") == FORMAT else None
