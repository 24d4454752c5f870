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

import numpy as np
import pyarrow as pa

from framework.errors import ArtifactError
from framework.models.identity import ModelIdentity, bundle_identity
from framework.registry.versions import resolve_bundle as resolve_model
from framework.registry.versions import resolve_bundle_path

__all__ = ["BundleScorer", "ModelIdentity", "resolve_bundle_path", "resolve_model"]


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
        return bundle_identity(self.bundle)

    @property
    def input_columns(self) -> list[str]:
        """The raw columns scoring reads (the pipeline's op inputs; no label, no passthrough)."""
        from framework.features._plan import raw_inputs

        return raw_inputs(self.bundle.pipeline.ops)

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
