"""Checking and reading committed scoring runs (`raylane score --verify DIR/run_date=...`).

Only a committed run counts: `_SUCCESS` beside a `manifest.json`. Readers read the files the manifest
lists, never a directory listing, so a file left by anything else is never read as a score.

Example:
    >>> report = verify_run("scores/run_date=2026-01-04")                  # doctest: +SKIP
    >>> report.ok, report.summary()                                         # doctest: +SKIP
    (True, 'committed run ok: 2,000,000 rows in (1,999,998 scored, 2 rejected) in 16 file(s), model ...')
    >>> table = read_committed("scores/run_date=2026-01-04")                # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from framework.errors import DataError
from framework.score._commit import MANIFEST, SUCCESS, committed_manifest

__all__ = ["VerifyReport", "verify_run", "read_committed"]

_CHUNK = 1 << 20


@dataclass
class VerifyReport:
    run_dir: str
    manifest: dict | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems

    def summary(self) -> str:
        if self.manifest is None:
            return f"{self.run_dir}: not a committed run ({SUCCESS} and {MANIFEST} are both required)"
        rows, model = self.manifest["rows"], self.manifest["model"]
        counts = f"{rows['in']:,} rows in ({rows['scored']:,} scored, {rows['rejected']:,} rejected)"
        files = len(self.manifest["files"]) + len(self.manifest["rejected_files"])
        state = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{self.run_dir}: committed run {state}: {counts} in {files} file(s), model {model['name']} {model['version']}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_file(run_dir: Path, listed: dict) -> list[str]:
    path = run_dir / listed["path"]
    if not path.is_file():
        return [f"{listed['path']}: listed in {MANIFEST} but missing"]
    if _sha256(path) != listed["sha256"]:
        return [f"{listed['path']}: sha256 differs from {MANIFEST}; the file changed after the commit"]
    rows = pq.ParquetFile(path).metadata.num_rows
    if rows != listed["rows"]:
        return [f"{listed['path']}: {rows} rows, {MANIFEST} says {listed['rows']}"]
    return []


def _check_report(run_dir: Path, listed: dict) -> list[str]:
    path = run_dir / listed["path"]
    if not path.is_file():
        return [f"{listed['path']}: listed in {MANIFEST} but missing"]
    return [] if _sha256(path) == listed["sha256"] else [f"{listed['path']}: sha256 differs from {MANIFEST}"]


def _unlisted(run_dir: Path, manifest: dict) -> list[str]:
    listed = {f["path"] for f in manifest["files"] + manifest["rejected_files"] + manifest.get("reports", [])}
    listed |= {MANIFEST, SUCCESS}
    found = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    return [f"{name}: not listed in {MANIFEST}" for name in sorted(found - listed)]


def _check_ids(run_dir: Path, manifest: dict) -> list[str]:
    id_column = manifest["columns"]["id"]
    ids = read_committed(run_dir, columns=[id_column], manifest=manifest)[id_column]
    duplicates = len(ids) - pc.count_distinct(ids, mode="all").as_py() if len(ids) else 0
    return [f"column {id_column!r}: {duplicates:,} duplicate id(s) among the scored rows"] if duplicates else []


def verify_run(run_dir: str | os.PathLike) -> VerifyReport:
    """Check a committed run against its manifest: every file present with its sha256 and row count,
    nothing unlisted, rows in = scored + rejected, and no id scored twice."""
    run_dir = Path(run_dir)
    report = VerifyReport(str(run_dir), committed_manifest(run_dir))
    manifest = report.manifest
    if manifest is None:
        return report
    for listed in manifest["files"] + manifest["rejected_files"]:
        report.problems += _check_file(run_dir, listed)
    for listed in manifest.get("reports", []):
        report.problems += _check_report(run_dir, listed)
    report.problems += _unlisted(run_dir, manifest)
    rows = manifest["rows"]
    counted = (sum(f["rows"] for f in manifest["files"]), sum(f["rows"] for f in manifest["rejected_files"]))
    if counted != (rows["scored"], rows["rejected"]) or rows["scored"] + rows["rejected"] != rows["in"]:
        report.problems.append(f"row counts do not add up: files hold {counted}, {MANIFEST} says {rows}")
    if not report.problems:
        report.problems += _check_ids(run_dir, manifest)
    return report


def read_committed(
    run_dir: str | os.PathLike, columns: list[str] | None = None, rejected: bool = False, manifest: dict | None = None
) -> pa.Table:
    """The scored rows of a committed run (or its rejected rows), from the files its manifest lists.

    Raises DataError when `run_dir` holds no committed run.
    """
    run_dir = Path(run_dir)
    manifest = manifest or committed_manifest(run_dir)
    if manifest is None:
        raise DataError(f"{run_dir}: not a committed scoring run (no {SUCCESS} with a {MANIFEST}); nothing to read")
    listed = manifest["rejected_files" if rejected else "files"]
    if not listed:
        return pa.schema([]).empty_table() if columns is None else pa.table({c: pa.array([]) for c in columns})
    tables = [pq.read_table(run_dir / f["path"], columns=columns) for f in listed]
    return pa.concat_tables(tables, promote_options="permissive")
