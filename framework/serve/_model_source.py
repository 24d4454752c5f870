"""The model a replica serves, and its switch to a new bundle without dropping a request.

A `ModelSource` holds one `LoadedModel` (scorer + request schema). A request takes the current one
when it arrives and keeps it to the end, so a swap never changes the model under a request in flight:
requests that arrived before the switch finish on the old model, later ones get the new one.

`refresh()` looks at the served place (a bundle directory, or a registry alias resolved to one).
Bundles are published by renaming a finished directory into place, so a changed directory entry
means a new bundle; the new one is loaded and verified completely before the swap. A bundle that
fails to load (half-copied, corrupt) leaves the old model serving and is retried at the next check.

Example:
    >>> source = ModelSource("runs/ctr-small/bundle")                      # doctest: +SKIP
    >>> model = source.current; model.identity.version                     # doctest: +SKIP
    'bundle-3f2a9c1d04be'
    >>> source.refresh()            # True when it switched to a new bundle # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from framework.errors import RaylaneError
from framework.serve._rows import RowSchema, row_schema_for_bundle

__all__ = ["LoadedModel", "ModelSource", "load_model"]


@dataclass(frozen=True)
class LoadedModel:
    """One loaded bundle: `scorer` (a BundleScorer), the request `rows` schema, and its identity."""

    scorer: object
    rows: RowSchema
    fingerprint: tuple

    @property
    def identity(self):
        return self.scorer.identity

    def describe(self) -> dict[str, str]:
        return {"name": self.identity.name, "version": self.identity.version}


def _resolve(place: str):
    """(bundle directory, registry identity or None): `name@alias` resolves again at every check, so
    moving the alias to another version changes the directory, and replicas switch."""
    from framework.score.scorer import resolve_model

    return resolve_model(place)


def _bundle_directory(place: str) -> Path:
    return _resolve(place)[0]


def fingerprint(directory: Path) -> tuple:
    """What changes when a bundle is published at `directory`: the inode and times of it and its files."""
    entries = [directory.stat()] + [entry.stat() for entry in sorted(os.scandir(directory), key=lambda e: e.name)]
    return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in entries)


def load_model(place: str) -> LoadedModel:
    """Load and verify the bundle at `place` (ArtifactError/ConfigError naming the file otherwise)."""
    from framework.score import BundleScorer

    directory, identity = _resolve(place)
    before = fingerprint(directory)
    scorer = BundleScorer(directory, identity=identity)
    return LoadedModel(scorer=scorer, rows=row_schema_for_bundle(scorer), fingerprint=before)


class ModelSource:
    """The current LoadedModel of one served place, replaced whole when the place changes."""

    def __init__(self, place: str, loader: Callable[[str], LoadedModel] = load_model):
        self.place = place
        self._loader = loader
        self._lock = threading.Lock()  # one refresh at a time; readers never wait
        self.current = loader(place)

    def changed(self) -> bool:
        """True when the served place no longer looks like the loaded bundle."""
        try:
            return fingerprint(_bundle_directory(self.place)) != self.current.fingerprint
        except (OSError, RaylaneError):
            return False  # mid-publish (between the renames) or gone: keep serving, look again later

    def refresh(self) -> bool:
        """Switch to the bundle now at the place if it changed; True when the model was replaced.

        Raises what loading raises (ArtifactError...) and keeps the old model in that case.
        """
        with self._lock:
            if not self.changed():
                return False
            fresh = self._loader(self.place)
            if fresh.identity.sha256 == self.current.identity.sha256:
                self.current = LoadedModel(self.current.scorer, self.current.rows, fresh.fingerprint)
                return False  # the same bundle, touched or copied again
            self.current = fresh
            return True


async def keep_model_fresh(source: ModelSource, every_s: float, on_switch: Callable[[LoadedModel], None]) -> None:
    """Check the served place every `every_s` seconds, forever; load new bundles off the event loop."""
    import asyncio
    import logging

    logger = logging.getLogger("raylane.serve")
    while True:
        await asyncio.sleep(every_s)
        try:
            switched = await asyncio.to_thread(source.refresh)
        except RaylaneError as error:  # a half-copied or corrupt bundle: keep the old model, retry later
            logger.warning("model at %s not loaded (still serving %s): %s", source.place, source.current.identity.version, error)
            continue
        if switched:
            logger.info("switched to model %s", source.current.identity.version)
            on_switch(source.current)
