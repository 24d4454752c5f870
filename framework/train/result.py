"""What a training run gives back, and where it lives: one place both the driver and `run_training` read.

Example:
    >>> run_directory(cfg)                      # runs/<run.name>   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from framework.train.config import TrainConfig

__all__ = ["TrainResult", "run_directory"]


@dataclass(frozen=True)
class TrainResult:
    bundle: Path
    metrics: dict
    run_directory: Path
    model_version: str | None = None  # the registry version, when `registry.name` is set


def run_directory(cfg: TrainConfig) -> Path:
    return Path(cfg.run.storage_path).expanduser().absolute() / cfg.run.name
