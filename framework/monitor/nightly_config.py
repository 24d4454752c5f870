"""The typed nightly config (`raylane nightly CONFIG`, `jobs/nightly.py`).

Example (see jobs/configs/nightly.yaml for every knob):
    model: ctr@prod                       # what is scored tonight
    registry_name: ctr                    # where a retrained candidate is registered
    score: {input: data/events, where: {event_date: 2026-01-09}, output: scores, run_date: 2026-01-09}
    drift: {psi: 0.2}
    retrain: {config: jobs/configs/train_small.yaml, overrides: [data.train=data/recent]}
    gate: {holdout: data/holdout, margin: 0.0, alias: prod, max_slice_drop: 0.04, min_slice_rows: 1000}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from framework.config import PartitionFilter, StrictModel
from framework.monitor.settings import DriftSection
from framework.registry.slice_gate import DEFAULT_MAX_SLICE_DROP, DEFAULT_MIN_SLICE_ROWS
from framework.workload import Workload

__all__ = ["NightlyConfig"]


class NightlyScoreSection(StrictModel):
    """The night's batch scoring; any other key of a score config goes in `settings`."""

    input: str | list[str]
    where: PartitionFilter = Field(default_factory=dict, description="partition filter, e.g. {event_date: 2026-01-09}")
    output: str
    run_date: dt.date
    settings: dict[str, Any] = Field(default_factory=dict, description="more score-config keys, e.g. passthrough")


class RetrainSection(StrictModel):
    """A training config plus overrides (the recent window of data goes here), as for `raylane train`."""

    config: str = "jobs/configs/train_small.yaml"
    overrides: list[str] = Field(default_factory=list)
    when: str = Field("drift", pattern="^(drift|always|never)$", description="drift: only when a threshold breaks")


class GateSection(StrictModel):
    """The candidate must beat the current model overall and hold up on every slice of its card.slices."""

    holdout: str | list[str] = Field(description="fresh labelled data both models are scored on")
    margin: float = Field(0.0, ge=0)
    max_slice_drop: float = Field(DEFAULT_MAX_SLICE_DROP, ge=0, le=1,
                                  description="AUC the candidate may lose to the current model on any one slice")
    min_slice_rows: int = Field(DEFAULT_MIN_SLICE_ROWS, ge=1, description="holdout rows a slice needs to be gated")
    alias: str = "prod"
    label: str = "label"


class NightlyRunSection(StrictModel):
    """How the night's jobs guard themselves: scoring and the retrain each get this watchdog."""

    stall_timeout_s: float | None = Field(
        600.0, gt=0, description="end the job with an error when no step, row or trial progresses this long; null: never"
    )


class NightlyConfig(StrictModel):
    model: str = Field(description="the model scored tonight: name@alias, name/version or a bundle directory")
    registry_name: str = Field(description="registered model name a retrained candidate is added to")
    score: NightlyScoreSection
    drift: DriftSection = DriftSection()
    retrain: RetrainSection = RetrainSection()
    gate: GateSection
    run: NightlyRunSection = NightlyRunSection()
    workload: Workload = Field(
        "nightly", description="workload class of the night's scoring and retraining: only nodes that accept it run them"
    )
