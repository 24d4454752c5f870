"""The fitted pipeline on disk: `pipeline.json` plus one Arrow IPC file per array-valued statistic.

`pipeline.json` holds the format version, the pipeline options, every op with its parameters and
scalar statistics, the input and output schemas, and a sha256 for every other file. Loading parses
JSON and Arrow IPC only (no pickle, no code from the artifact) and refuses any version or checksum
mismatch with an ArtifactError naming the file.

Example:
    >>> write_artifact("/tmp/p", {"ops": []}, {})            # doctest: +SKIP
    >>> document, tables = read_artifact("/tmp/p")           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa

from framework.errors import ArtifactError

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "write_artifact", "read_artifact"]

FORMAT = "raylane.feature_pipeline"
FORMAT_VERSION = 1
MANIFEST = "pipeline.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_table(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _replace_directory(staging: Path, target: Path) -> None:
    """Swap the finished artifact in; only an old artifact (or an empty directory) is replaced."""
    if target.exists():
        if any(target.iterdir()) and not (target / MANIFEST).exists():
            shutil.rmtree(staging)
            raise ArtifactError(f"{target}: exists and is not a feature pipeline artifact; refusing to overwrite it")
        shutil.rmtree(target)
    os.replace(staging, target)


def write_artifact(directory: str | os.PathLike, document: dict, tables: dict[str, pa.Table]) -> None:
    """Write `tables` (file name → table) and the manifest `document`, atomically."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    files = {}
    for name, table in tables.items():
        _write_table(staging / name, table)
        files[name] = _sha256(staging / name)
    document = {"format": FORMAT, "format_version": FORMAT_VERSION, **document, "files": files}
    text = json.dumps(document, indent=2, allow_nan=False)
    (staging / MANIFEST).write_text(text + "\n", encoding="utf-8")
    _replace_directory(staging, target)


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; not a feature pipeline artifact")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a feature pipeline manifest (format should be {FORMAT!r})")
    if document.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: format version {document.get('format_version')!r} is not supported "
            f"(this raylane reads version {FORMAT_VERSION})"
        )
    return document


def _read_table(path: Path) -> pa.Table:
    try:
        with pa.OSFile(str(path), "rb") as source:
            return pa.ipc.open_file(source).read_all()
    except pa.ArrowException as error:
        raise ArtifactError(f"{path}: not a readable Arrow IPC file ({error})") from None


def read_artifact(directory: str | os.PathLike) -> tuple[dict, dict[str, pa.Table]]:
    """(manifest, file name → table), after checking the version and every file's sha256."""
    directory = Path(directory)
    document = _read_manifest(directory)
    tables = {}
    for name, expected in dict(document.get("files", {})).items():
        path = directory / name
        if Path(name).name != name or not path.is_file():
            raise ArtifactError(f"{path}: listed in {MANIFEST} but missing")
        if _sha256(path) != expected:
            raise ArtifactError(f"{path}: sha256 does not match {MANIFEST}; the file was changed after saving")
        tables[name] = _read_table(path)
    return document, tables
