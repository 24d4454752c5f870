"""Which model produced a score: a registered version, or a bundle known by its content hash.

Example:
    >>> bundle_identity(load_bundle("runs/ctr-small/bundle"))                   # doctest: +SKIP
    ModelIdentity(name='ctr-small', version='bundle-3f2a9c1d04be', sha256='3f2a...')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import framework.models._bundle_files as files

__all__ = ["ModelIdentity", "bundle_identity", "manifest_sha256"]


@dataclass(frozen=True)
class ModelIdentity:
    """Which model produced a score. Without a registry the version is the bundle's content hash."""

    name: str
    version: str
    sha256: str  # of the bundle manifest, which lists the sha256 of every other file


def manifest_sha256(directory: Path) -> str:
    return files.sha256_file(files.member_path(directory, files.MANIFEST))


def bundle_identity(bundle) -> ModelIdentity:
    """The identity of an unregistered bundle: its run name and its manifest's hash."""
    digest = manifest_sha256(bundle.directory)
    name = bundle.lineage.get("run_name") or bundle.directory.parent.name or bundle.directory.name
    return ModelIdentity(name=str(name), version=f"bundle-{digest[:12]}", sha256=digest)
