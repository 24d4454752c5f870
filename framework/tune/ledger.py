"""`sweep.json`: raylane's own record of a sweep directory, written atomically, never pickled.

It holds the config fingerprint, where the study lives and one entry per launch of the driver
(how many trials it set out to run, which interrupted trials it found). A truncated or edited file
is an error naming it, not a silent fresh start.

Example:
    >>> ledger = SweepLedger.open(sweep_dir, cfg)
    >>> ledger.start_launch(remaining=6, recovery=Recovery())
    'launch-0'
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from framework.errors import ArtifactError, ConfigError
from framework.tune.study import Recovery, fingerprint, storage_url

__all__ = ["LEDGER_FILE", "SweepLedger"]

LEDGER_FILE = "sweep.json"
_FORMAT = 1


@dataclass
class SweepLedger:
    path: Path
    document: dict

    @property
    def storage(self) -> str:
        return self.document["storage"]

    @classmethod
    def open(cls, sweep_dir: Path, cfg) -> "SweepLedger":
        path = Path(sweep_dir) / LEDGER_FILE
        expected = {"format": _FORMAT, "fingerprint": fingerprint(cfg), "storage": storage_url(cfg), "study_name": cfg.run.study_name or cfg.run.name}
        if not path.exists():
            ledger = cls(path, {**expected, "launches": []})
            ledger._write()
            return ledger
        document = _read(path)
        if document.get("fingerprint") != expected["fingerprint"]:
            raise ConfigError(
                f"{path}: sweep {cfg.run.name!r} was started with a different base config, space, objective, sampler "
                "or scheduler; rerun it with its original config, or give a new run.name"
            )
        if (document.get("storage"), document.get("study_name")) != (expected["storage"], expected["study_name"]):
            raise ConfigError(f"{path}: this sweep's study is {document.get('study_name')!r} in {document.get('storage')}; run.storage and run.study_name must not change")
        return cls(path, document)

    def start_launch(self, remaining: int, recovery: Recovery) -> str:
        """Record a new launch of the driver; returns its Tune experiment name."""
        name = f"launch-{len(self.document['launches'])}"
        self.document["launches"].append(
            {
                "name": name,
                "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "trials": remaining,
                "interrupted_found": list(recovery.interrupted),
            }
        )
        self._write()
        return name

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.document, indent=2) + "\n")
        os.replace(temporary, self.path)


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path}: the sweep's ledger is truncated or corrupted ({error}); restore it, or move the sweep directory away to start afresh") from None
    keys = {"format", "fingerprint", "storage", "study_name", "launches"}
    if not isinstance(document, dict) or not keys <= document.keys() or not isinstance(document["launches"], list):
        raise ArtifactError(f"{path}: not a raylane sweep ledger (expected the keys {sorted(keys)})")
    if document["format"] != _FORMAT:
        raise ArtifactError(f"{path}: ledger format {document['format']!r}, this raylane reads format {_FORMAT}")
    return document
