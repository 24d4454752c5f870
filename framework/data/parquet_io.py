"""The one place raylane reads Parquet: local paths or any filesystem pyarrow supports.

A source is a file, a directory (searched recursively, hive partitions included), a glob
(`data/train/*.parquet`, `s3://bucket/day=*/part-*.parquet`) or a list of those.

Example:
    >>> files = list_parquet_files("data/train")
    >>> table = read_table("data/train/*.parquet", columns=["I1", "label"])
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from framework.errors import DataError

__all__ = ["HIVE_NULL", "ParquetFiles", "list_parquet_files", "read_table", "partition_values", "open_parquet"]

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # how Hive names the partition directory of a null value

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class ParquetFiles:
    """Resolved Parquet files on one filesystem. `paths` are in the filesystem's own form."""

    filesystem: pafs.FileSystem
    paths: list[str]
    root: str  # the directory hive partition keys are read below

    def display(self, path: str) -> str:
        """The path as the user would recognise it (with its URI scheme for remote stores)."""
        if isinstance(self.filesystem, pafs.LocalFileSystem):
            return path
        return f"{self.filesystem.type_name}://{path}"


def _split_filesystem(source: str) -> tuple[pafs.FileSystem, str]:
    if "://" in source:
        return pafs.FileSystem.from_uri(source)
    return pafs.LocalFileSystem(), os.path.abspath(source)


def _glob_root(pattern: str) -> str:
    parts = pattern.split("/")
    for index, part in enumerate(parts):
        if _GLOB_CHARS & set(part):
            return "/".join(parts[:index]) or "/"
    return os.path.dirname(pattern)


def _is_data_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return not name.startswith(("_", ".")) and not name.endswith((".yaml", ".yml", ".json", ".crc"))


def _resolve_one(source: str) -> ParquetFiles:
    filesystem, path = _split_filesystem(source)
    if _GLOB_CHARS & set(path):
        root = _glob_root(path)
        infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        paths = sorted(i.path for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, path))
        return ParquetFiles(filesystem, [p for p in paths if _is_data_file(p)], root)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise DataError(f"{source}: no such file or directory")
    if info.type == pafs.FileType.File:
        return ParquetFiles(filesystem, [path], os.path.dirname(path))
    infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    paths = sorted(i.path for i in infos if i.type == pafs.FileType.File and _is_data_file(i.path))
    return ParquetFiles(filesystem, paths, path)


def list_parquet_files(source: str | Sequence[str]) -> ParquetFiles:
    """Resolve a path, directory, glob or list of them into a sorted list of data files.

    Raises DataError when nothing matches, naming the source.
    """
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise DataError("no Parquet source given: expected a file, directory or glob")
    resolved = [_resolve_one(os.fspath(s)) for s in sources]
    paths = sorted({p for r in resolved for p in r.paths})
    if not paths:
        raise DataError(f"{', '.join(map(str, sources))}: no Parquet files found")
    return ParquetFiles(resolved[0].filesystem, paths, resolved[0].root if len(resolved) == 1 else "")


def partition_values(path: str, root: str) -> dict[str, str]:
    """Hive partition keys (`key=value` directories) between `root` and the file."""
    relative = path[len(root):] if root and path.startswith(root) else path
    values = {}
    for part in relative.strip("/").split("/")[:-1]:
        key, sep, value = part.partition("=")
        if sep and key:
            values[key] = value
    return values


def open_parquet(files: ParquetFiles, path: str) -> pq.ParquetFile:
    """Open one file for metadata or streaming reads (raises pyarrow's own errors)."""
    return pq.ParquetFile(files.filesystem.open_input_file(path))


def _hive_schema(files: ParquetFiles, schema: pa.Schema | None) -> pads.Partitioning | None:
    keys: dict[str, None] = {}
    for path in files.paths:
        keys.update(dict.fromkeys(partition_values(path, files.root)))
    if not keys:
        return None
    fields = []
    for key in keys:
        field_type = schema.field(key).type if schema is not None and key in schema.names else pa.string()
        fields.append(pa.field(key, field_type))
    return pads.partitioning(pa.schema(fields), flavor="hive")


def read_table(
    source: str | Sequence[str] | ParquetFiles,
    columns: Iterable[str] | None = None,
    partition_schema: pa.Schema | None = None,
) -> pa.Table:
    """Read Parquet into one Arrow table, hive partition columns included.

    `partition_schema` types the partition columns (strings by default), e.g. date32 for
    `event_date=2026-01-01/` directories.
    """
    files = source if isinstance(source, ParquetFiles) else list_parquet_files(source)
    partitioning = _hive_schema(files, partition_schema)
    dataset = pads.dataset(
        files.paths,
        filesystem=files.filesystem,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=files.root or None,
    )
    return dataset.to_table(columns=list(columns) if columns is not None else None)
