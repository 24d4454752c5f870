"""Model references: a bundle directory, `name@alias` or `name/version`, resolved to a local bundle
directory that stays inside the artifact store.

A registry version's `source` could have been edited to point anywhere, so the resolved path is
canonicalised (symlinks and `..` removed) and must lie inside the store's artifact root; anything
else is refused before a file is opened.

Example:
    >>> parse_reference("ctr@prod")
    ModelReference(name='ctr', alias='prod', version=None)
    >>> parse_reference("ctr/3")
    ModelReference(name='ctr', alias=None, version='3')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from framework.errors import ArtifactError, ConfigError

__all__ = ["ModelReference", "parse_reference", "resolve_version", "local_source", "MODEL_NAME"]

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ModelReference:
    name: str
    alias: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.alias}" if self.alias else f"{self.name}/{self.version}"


def check_name(name: str) -> str:
    if not MODEL_NAME.match(name) or ".." in name:
        raise ConfigError(f"model name {name!r}: expected letters, digits, '_', '.', '-' (no '..'), at most 100 characters")
    return name


def parse_reference(text: str) -> ModelReference:
    """`name@alias` or `name/version` (version a positive integer)."""
    if "@" in text:
        name, _, alias = text.partition("@")
        if not _ALIAS.match(alias):
            raise ConfigError(f"model reference {text!r}: alias {alias!r} must be a letter then letters, digits, '_' or '-'")
        return ModelReference(check_name(name), alias=alias)
    name, _, version = text.partition("/")
    if not version.isdigit() or int(version) < 1:
        raise ConfigError(f"model reference {text!r}: expected name@alias or name/VERSION with VERSION a positive integer")
    return ModelReference(check_name(name), version=str(int(version)))


def resolve_version(client, reference: ModelReference):
    """The MLflow ModelVersion a reference names (ArtifactError naming it if there is none)."""
    from mlflow.exceptions import MlflowException

    try:
        if reference.alias:
            return client.get_model_version_by_alias(reference.name, reference.alias)
        return client.get_model_version(reference.name, reference.version)
    except MlflowException:
        raise ArtifactError(f"model {reference}: not in the registry; `raylane models list` shows what is") from None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def local_source(source: str, artifact_root: str) -> Path:
    """A version's local bundle directory, canonicalised and checked to be inside `artifact_root`."""
    parsed = urlparse(source)
    if parsed.scheme not in ("", "file"):
        raise ArtifactError(f"model source {source}: only local artifact stores can be read directly")
    raw = unquote(parsed.path) if parsed.scheme == "file" else source
    path = Path(os.path.realpath(raw))
    root = Path(os.path.realpath(unquote(urlparse(artifact_root).path) if artifact_root.startswith("file:") else artifact_root))
    if not _inside(path, root):
        raise ArtifactError(f"model source {source}: resolves to {path}, outside the artifact store {root}; refusing to load it")
    if not path.is_dir():
        raise ArtifactError(f"model source {source}: no bundle directory there")
    return path
