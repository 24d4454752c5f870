"""The bundle on disk: file names, the format version, checksums, JSON, and path containment.

A bundle is read with JSON and safetensors parsers only. Paths come from a manifest that may have
been edited, so every file is resolved with os.path.realpath and must stay inside the bundle.

Example:
    >>> member_path("/tmp/bundle", "pipeline/pipeline.json")      # doctest: +SKIP
    PosixPath('/tmp/bundle/pipeline/pipeline.json')
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from framework.errors import ArtifactError

__all__ = [
    "FORMAT", "FORMAT_VERSION", "MANIFEST", "WEIGHTS", "WEIGHTS_FILE_BYTES", "weight_file_names", "METRICS", "LINEAGE", "CONTRACT", "PIPELINE_DIR",
    "sha256_file", "local_directory", "member_path", "check_members_inside", "bundle_files", "json_ready", "read_json",
    "write_bytes",
]

FORMAT = "raylane.model_bundle"
FORMAT_VERSION = 1
MANIFEST = "model.json"
WEIGHTS = "model.safetensors"
# Weights past this size go on in model-00002-of-0000N.safetensors, ...: large embedding tables stay
# in files that storage systems and safetensors' readers handle comfortably.
WEIGHTS_FILE_BYTES = 2 * 2**30
_MORE_WEIGHTS = re.compile(r"^model-(\d{5})-of-(\d{5})\.safetensors$")
METRICS = "metrics.json"
LINEAGE = "lineage.json"
CONTRACT = "contract.yaml"
PIPELINE_DIR = "pipeline"


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_bytes(path: Path, data: bytes) -> None:
    """Write and fsync, so a bundle renamed into place after a crash is never half-written."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def local_directory(directory: str | os.PathLike) -> Path:
    """The bundle directory as a local Path; URLs are refused (copy the bundle locally first)."""
    if "://" in os.fspath(directory):
        raise ArtifactError(f"{directory}: bundles are read and written on local paths only; copy it locally first")
    return Path(directory)


def member_path(root: str | os.PathLike, relative: str) -> Path:
    """`root/relative`, refused unless it is a plain relative path that really lies inside `root`."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise ArtifactError(f"{root}: {MANIFEST} names {relative!r}, which is not a plain path inside the bundle")
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *pure.parts))
    if os.path.commonpath([real_root, real]) != real_root:
        raise ArtifactError(f"{os.path.join(root, relative)}: resolves to {real}, outside the bundle; refusing it")
    return Path(real)


def check_members_inside(root: str | os.PathLike) -> None:
    """Refuse a bundle holding any symlink that escapes it (walked without following links)."""
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(real_root, followlinks=False):
        for name in dirs + files:
            path = os.path.join(folder, name)
            real = os.path.realpath(path)
            if os.path.commonpath([real_root, real]) != real_root:
                raise ArtifactError(f"{path}: a link to {real}, outside the bundle; refusing the bundle")


def bundle_files(root: Path) -> Iterator[str]:
    """Every regular file under `root`, as sorted POSIX paths relative to it."""
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            found.append(Path(folder, name).relative_to(root).as_posix())
    yield from sorted(found)


def json_ready(value: Any, where: str) -> Any:
    """Plain JSON values. NaN/inf become null (JSON has none; null reads as "not computable")."""
    if isinstance(value, dict):
        return {str(key): json_ready(item, where) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item, where) for item in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy / torch scalars
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ArtifactError(f"{where}: cannot store {type(value).__name__} {value!r} as JSON; use numbers, strings, lists, dicts")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{path}: not valid JSON ({error})") from None


def weight_file_names(listed) -> list[str]:
    """The weight files among a manifest's files: model.safetensors first, then the numbered rest."""
    more = sorted(name for name in listed if _MORE_WEIGHTS.match(name))
    return [WEIGHTS, *more]


def numbered_weight_file(number: int, count: int) -> str:
    return f"model-{number:05d}-of-{count:05d}.safetensors"
