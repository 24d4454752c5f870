"""Typed configs of the jobs in `jobs/`. Each section forbids unknown keys."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from framework.config._model import StrictModel

__all__ = ["DemoConfig", "GenerateSection"]


class GenerateSection(StrictModel):
    """Synthetic data to generate (see `raylane data generate`)."""

    rows: int = Field(200_000, gt=0, description="rows to generate")
    seed: int = Field(7, ge=0)
    days: int = Field(3, ge=1, description="event_date partitions")
    start_date: dt.date = dt.date(2026, 1, 1)
    drift: float = Field(0.0, ge=0.0, le=1.0, description="0 = none, 1 = strong")
    files_per_day: int = Field(2, ge=1)


class DemoTrainSection(StrictModel):
    """The training step of the demo: a shipped training config plus overrides."""

    config: str = Field("jobs/configs/train_small.yaml", description="relative to the project root, or absolute")
    overrides: list[str] = Field(default_factory=list, description="key=value overrides of that config")


class DemoSweepSection(StrictModel):
    """The tiny sweep of the demo (TPE + ASHA over lr and batch size)."""

    enabled: bool = True
    trials: int = Field(4, ge=1)
    epochs: int = Field(2, ge=1)


class DemoDriftSection(StrictModel):
    """The drifted day of the demo and the recent window the nightly loop retrains on."""

    enabled: bool = True
    drift: float = Field(1.0, gt=0.0, le=1.0, description="how strongly the day drifts (generator --drift)")
    recent_rows: int = Field(100_000, gt=0, description="rows of the recent (drifted) training window")
    day_rows: int = Field(20_000, gt=0, description="rows of the drifted day scored by the nightly loop")


class DemoConfig(StrictModel):
    """The end-to-end demo: data, contract, a tiny sweep, training, the registry, batch and online
    scoring, a drifted day through the nightly loop, and the audit log."""

    generate: GenerateSection = GenerateSection()
    valid_rows: int = Field(50_000, gt=0, description="held-out rows, drawn with seed + 1")
    train: DemoTrainSection = DemoTrainSection()
    sweep: DemoSweepSection = DemoSweepSection()
    drift: DemoDriftSection = DemoDriftSection()
    serve_port: int = Field(8000, ge=1, le=65535, description="where the demo serves the model for a few requests")
    model_name: str = Field("demo-ctr", description="the registered model name")
    workdir: str | None = Field(None, description="where the demo writes; default $RAYLANE_HOME/demo")
