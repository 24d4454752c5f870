"""Scoring raw rows with a model bundle: the one code path batch and online scoring share.

A `BundleScorer` loads a bundle once (safetensors + JSON, no pickle) and turns raw Arrow rows into
P(label = 1) with the bundle's own fitted pipeline, so the same row gets the same score in a nightly
batch job and in a real-time request.

Example:
    >>> scorer = BundleScorer("runs/ctr-small/bundle")                    # doctest: +SKIP
    >>> scorer.score(pyarrow.table({...}))                                # doctest: +SKIP
    array([0.031..., 0.12...])
    >>> scorer.identity                                                   # doctest: +SKIP
    ModelIdentity(name='ctr-small', version='bundle-3f2a9c1d04be', sha256='3f2a...')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from framework.errors import ArtifactError

__all__ = ["BundleScorer", "ModelIdentity", "resolve_bundle_path", "resolve_model"]


@dataclass(frozen=True)
class ModelIdentity:
    """Which model produced a score. Without a registry the version is the bundle's content hash."""

    name: str
    version: str
    sha256: str  # of the bundle manifest, which lists the sha256 of every other file


def resolve_bundle_path(model: str | os.PathLike) -> Path:
    """A bundle directory, as given on the command line (`--model DIR`)."""
    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    raise ArtifactError(f"--model {text}: no such directory; expected a model bundle written by `raylane train`, "
                        "or a registry reference name@alias or name/version")


def resolve_model(model: str | os.PathLike) -> tuple[Path, ModelIdentity | None]:
    """(bundle directory, registry identity or None) for a bundle path, `name@alias` or `name/version`."""
    from framework.registry.versions import is_reference, resolve_model as resolve_registered

    if is_reference(os.fspath(model)):
        return resolve_registered(os.fspath(model))
    return resolve_bundle_path(model), None


class BundleScorer:
    """A loaded bundle that scores raw rows. Build it once per process (actor, replica), then call
    `score` per batch; it holds no per-call state, so it is safe to share between threads."""

    def __init__(self, model: str | os.PathLike, identity: ModelIdentity | None = None):
        from framework.models import load_bundle

        path, registered = resolve_model(model)
        self.bundle = load_bundle(path)
        if self.bundle.pipeline is None:
            raise ArtifactError(f"{self.bundle.directory}: the bundle has no pipeline/; it cannot score raw rows")
        self.identity = identity or registered or self._identity_from_bundle()

    def _identity_from_bundle(self) -> ModelIdentity:
        digest = _manifest_sha256(self.bundle.directory)
        name = self.bundle.lineage.get("run_name") or self.bundle.directory.parent.name or self.bundle.directory.name
        return ModelIdentity(name=str(name), version=f"bundle-{digest[:12]}", sha256=digest)

    @property
    def input_columns(self) -> list[str]:
        """The raw columns scoring reads (the pipeline's op inputs; no label, no passthrough)."""
        from framework.features._plan import raw_inputs

        return list(dict.fromkeys(raw_inputs(self.bundle.pipeline.ops)))

    def score(self, table: pa.Table, *, forward_rows: int | None = None) -> np.ndarray:
        """P(label = 1) per row, float64, in row order. Raises DataError naming the column on bad input.

        `forward_rows` runs the model on slices of that many rows (the transform still runs once):
        on a CPU, slices that fit in cache are several times faster than one huge forward pass.
        Rows do not interact in the model, so the scores agree either way up to float32 rounding.
        """
        from framework.models.inputs import model_inputs

        arrays = model_inputs(self.bundle.pipeline, table)
        continuous, categorical = arrays["continuous"], arrays["categorical"]
        step = forward_rows or max(1, len(continuous))
        if step >= len(continuous):
            return self.bundle.predict_proba(continuous, categorical)
        parts = [
            self.bundle.predict_proba(continuous[start : start + step], categorical[start : start + step])
            for start in range(0, len(continuous), step)
        ]
        return np.concatenate(parts)


def _manifest_sha256(directory: Path) -> str:
    from framework.models import _bundle_files as files

    return files.sha256_file(files.member_path(directory, files.MANIFEST))
