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

import ctypes
import errno
import json
import os
import shutil
from pathlib import Path

from framework.score._staging import StagingArea, fsync_directory, write_durably

__all__ = ["MANIFEST", "SUCCESS", "commit_run", "committed_manifest", "exchange_directories"]

MANIFEST = "manifest.json"
SUCCESS = "_SUCCESS"
FORMAT = "raylane-scores"
FORMAT_VERSION = 1
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


def exchange_directories(first: Path, second: Path) -> bool:
    """Swap two directories atomically; False where the kernel or filesystem cannot."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, f"cannot exchange {first} and {second}: {os.strerror(code)}")


def _move_into_place(staged: Path, final: Path, aside: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        os.rename(staged, final)
    elif exchange_directories(staged, final):
        pass  # `staged` now holds the previous run
    else:
        os.rename(final, aside)
        os.rename(staged, final)
    fsync_directory(final.parent)


def commit_run(area: StagingArea, final: Path, manifest: dict) -> None:
    """Write the manifest and _SUCCESS into the staged run, then publish it as `final`."""
    body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    write_durably(area.run / MANIFEST, body)
    write_durably(area.run / SUCCESS, b"")
    fsync_directory(area.run)
    area.discard_ledger()  # from the move on, area.run may hold the previous run's files
    aside = area.root / "previous"
    _move_into_place(area.run, final, aside)
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
