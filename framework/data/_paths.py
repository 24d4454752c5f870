"""How a source string becomes files, shared by the Parquet reader and the CSV/TSV import: the
filesystem of a path or URI, the directory a glob searches, and which directories hold no data.

Example:
    >>> glob_root("/data/t/event_date=*/part-*.parquet")
    '/data/t'
    >>> hidden_directory("/data/t/_rejected/r.jsonl", "/data/t"), hidden_directory("/data/t/_k=v/x", "/data/t")
    (True, False)
"""

from __future__ import annotations

import os

import pyarrow.fs as pafs

__all__ = ["GLOB_CHARS", "glob_root", "hidden_directory", "split_filesystem"]

GLOB_CHARS = set("*?[")


def split_filesystem(source: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path in its form): a URI's filesystem, else the local one with an absolute path."""
    if "://" in source:
        return pafs.FileSystem.from_uri(source)
    return pafs.LocalFileSystem(), os.path.abspath(source)


def glob_root(pattern: str) -> str:
    """The deepest directory of `pattern` without glob characters: where the search starts."""
    parts = pattern.split("/")
    for index, part in enumerate(parts):
        if GLOB_CHARS & set(part):
            return "/".join(parts[:index]) or "/"
    return os.path.dirname(pattern)


def hidden_directory(path: str, root: str) -> bool:
    """Whether a directory between `root` and the file starts with `.` or `_` (`_rejected/`, `_staging/`,
    as Hive and Spark skip them); a `_key=value` partition directory is data."""
    below = path[len(root):] if path.startswith(root) else path.rsplit("/", 1)[-1]
    directories = below.split("/")[:-1]
    return any(d.startswith(".") or (d.startswith("_") and "=" not in d) for d in directories)
