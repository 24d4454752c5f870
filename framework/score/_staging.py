"""The staging area of a scoring run, its ledger, and durable file writes.

    OUTPUT/_staging/run_date=YYYY-MM-DD/<run key>/
        run/       the run being built; publishing moves this directory into place whole
        ledger/    one JSON entry per finished task: its output files with rows, bytes and sha256

A task's entry is written (atomically) only after all of its files are, so an entry means "done".
An attempt that crashed leaves files without an entry; the next attempt deletes them and redoes
those tasks, and skips every task that has an entry whose files are still intact. Underscore
directories are ignored by Parquet readers (pyarrow, Spark), so OUTPUT stays readable throughout.

Example:
    >>> area = StagingArea("scores", "2026-01-04", "3f2a9c1d04be5a6b")      # doctest: +SKIP
    >>> done = area.resume()                                                 # doctest: +SKIP
    >>> sorted(done)[:1]                                                     # doctest: +SKIP
    ['event_date_2026-01-04__part-00000-1a2b3c4d-g00000']
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from framework.durable_files import fsync_directory, write_durably

__all__ = ["StagingArea", "write_durably", "fsync_directory", "run_directory_name", "REJECTED_DIR"]

REJECTED_DIR = "_rejected"
STAGING_DIR = "_staging"


def run_directory_name(run_date: str) -> str:
    return f"run_date={run_date}"


class StagingArea:
    """The staging directory of one run key (see the module docstring for the layout)."""

    def __init__(self, output: str | os.PathLike, run_date: str, run_key: str):
        self._place(Path(output) / STAGING_DIR / run_directory_name(run_date) / run_key)

    @classmethod
    def at(cls, root: Path) -> "StagingArea":
        """The area at a known root (how actors find it)."""
        area = cls.__new__(cls)
        area._place(Path(root))
        return area

    def _place(self, root: Path) -> None:
        self.root = root
        self.run = root / "run"
        self.ledger = root / "ledger"

    def resume(self) -> dict[str, dict]:
        """Prepare the directories and return the entries of tasks already done, by task name.

        Without a ledger there is nothing to trust in `run/` (a fresh run, or a publish that moved
        an older run in here), so it starts empty."""
        if not self.ledger.is_dir():
            shutil.rmtree(self.run, ignore_errors=True)
        (self.run / REJECTED_DIR).mkdir(parents=True, exist_ok=True)
        self.ledger.mkdir(parents=True, exist_ok=True)
        done = {name: entry for name, entry in self._entries().items() if self._intact(entry)}
        for stale in sorted(set(self._entries()) - set(done)):
            (self.ledger / f"{stale}.json").unlink()
        self._remove_unlisted(done.values())
        return done

    def _entries(self) -> dict[str, dict]:
        entries = {}
        for path in sorted(self.ledger.glob("*.json")):
            entry = json.loads(path.read_text())
            entries[entry["task"]] = entry
        return entries

    def _intact(self, entry: dict) -> bool:
        for listed in entry["files"] + entry["rejected_files"]:
            path = self.run / listed["path"]
            if not path.is_file() or path.stat().st_size != listed["bytes"]:
                return False
        return True

    def _remove_unlisted(self, entries) -> None:
        """Files of unfinished tasks (and temporary files) of a crashed attempt."""
        listed = {f["path"] for e in entries for f in e["files"] + e["rejected_files"]}
        for path in [*self.run.glob("*"), *(self.run / REJECTED_DIR).glob("*")]:
            relative = path.relative_to(self.run).as_posix()
            if path.is_file() and relative not in listed:
                path.unlink()

    def record(self, entry: dict) -> None:
        """Mark a task done; called by the actor after its files are durable."""
        write_durably(self.ledger / f"{entry['task']}.json", json.dumps(entry, sort_keys=True).encode())

    def entries(self) -> dict[str, dict]:
        return self._entries()

    def discard_ledger(self) -> None:
        """Called just before publishing: from here on, `run/` may hold another run's files."""
        if self.ledger.is_dir():
            doomed = self.root / "ledger.discarded"
            shutil.rmtree(doomed, ignore_errors=True)
            os.replace(self.ledger, doomed)
            fsync_directory(self.root)
            shutil.rmtree(doomed)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        for parent in (self.root.parent, self.root.parent.parent):
            try:
                parent.rmdir()  # only when empty: other run keys or dates may still be staged
            except OSError:
                break
