"""`features: {suggest: true}` resolved before anything reads the features: the suggested pipeline is
written into the run directory (`features.suggested.yaml`), its path printed, and the run trains with
it. A resumed run reuses the file it wrote, so a rerun trains with the same pipeline (edit the file and
rerun to change it).

Example:
    >>> cfg = resolve_features(cfg, run_dir, log=print)                          # doctest: +SKIP
    [train] features suggested from the training data: runs/ctr/features.suggested.yaml (13 numeric, ...)
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import yaml

from framework.features import PipelineSpec

__all__ = ["SUGGESTED_FILE", "resolve_features"]

SUGGESTED_FILE = "features.suggested.yaml"


def resolve_features(cfg, run_dir: Path, log: Callable[[str], None] = print):
    """`cfg` with a pipeline in `features` (the same object when it already has one)."""
    from framework.train.config import SuggestedFeatures

    request = cfg.features
    if not isinstance(request, SuggestedFeatures):
        return cfg
    from framework.config._model import validate_model

    path = Path(run_dir) / SUGGESTED_FILE
    if path.is_file():
        log(f"[train] features: reusing the pipeline suggested for this run, {path}")
    else:
        from framework.features import suggest_features

        suggestion = suggest_features(cfg.data.train, cfg.data.contract, label=cfg.label,
                                      sample_rows=request.sample_rows, seed=request.seed)
        suggestion.write(path)
        log(f"[train] features suggested from the training data: {path} ({suggestion.summary()})")
    mapping = yaml.safe_load(path.read_text())
    pipeline = validate_model(PipelineSpec, mapping.get("features", mapping), str(path))
    return cfg.model_copy(update={"features": pipeline})
