"""CSV/TSV source files: resolving a file, directory or glob, and opening them (gzip and co. by suffix).

A directory is searched recursively; names starting with `_` or `.` (and what lies under such a
directory) are skipped, as Parquet readers skip them. Local paths or any URI pyarrow's filesystems
take (`s3://bucket/raw/*.tsv.gz`).

Example:
    >>> sources = list_csv_sources("raw/day_*.gz")
    >>> raw, text = open_source(sources[0])     # `raw.tell()`: compressed bytes read so far
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from framework.data._paths import GLOB_CHARS, glob_root, hidden_directory, split_filesystem
from framework.errors import DataError

__all__ = ["CsvSource", "list_csv_sources", "open_source"]

_CODECS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}


@dataclass(frozen=True)
class CsvSource:
    """One source file: its filesystem, path in that filesystem's form, and size in bytes."""

    filesystem: pafs.FileSystem
    path: str
    size: int

    @property
    def display(self) -> str:
        """The path as the user would recognise it (with its URI scheme for remote stores)."""
        if isinstance(self.filesystem, pafs.LocalFileSystem):
            return self.path
        return f"{self.filesystem.type_name}://{self.path}"

    @property
    def codec(self) -> str | None:
        return next((codec for suffix, codec in _CODECS.items() if self.path.lower().endswith(suffix)), None)


def _visible(path: str, root: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return not hidden_directory(path, root) and not (name.startswith(".") or (name.startswith("_") and "=" not in name))


def _files(filesystem: pafs.FileSystem, root: str) -> list[pafs.FileInfo]:
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    return [i for i in filesystem.get_file_info(selector) if i.type == pafs.FileType.File and _visible(i.path, root)]


def _resolve(source: str) -> list[CsvSource]:
    filesystem, path = split_filesystem(source)
    if GLOB_CHARS & set(path):
        infos = [i for i in _files(filesystem, glob_root(path)) if fnmatch.fnmatch(i.path, path)]
    else:
        info = filesystem.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise DataError(f"{source}: no such file or directory")
        infos = [info] if info.type == pafs.FileType.File else _files(filesystem, path)
    return [CsvSource(filesystem, i.path, i.size) for i in sorted(infos, key=lambda i: i.path)]


def list_csv_sources(source) -> list[CsvSource]:
    """A file, directory, glob or list of them → source files in path order (their order fixes the
    file index of generated row ids). Raises DataError when nothing matches."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    found = {s.path: s for item in items for s in _resolve(os.fspath(item))}
    if not found:
        raise DataError(f"{', '.join(map(str, items)) or 'no source'}: no CSV/TSV files found")
    return [found[path] for path in sorted(found)]


def open_source(source: CsvSource) -> tuple[pa.NativeFile, pa.NativeFile]:
    """(raw, text): the raw stream, for progress in bytes of the file, and the decompressed stream."""
    raw = source.filesystem.open_input_file(source.path)  # seekable, so tell() reports progress
    codec = source.codec
    return raw, (pa.CompressedInputStream(raw, codec) if codec else raw)
