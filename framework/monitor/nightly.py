"""The nightly loop: score the day, check drift, and when drift breaches the thresholds retrain on a
recent window, register the result as `candidate`, gate it against `prod` on fresh holdout data,
and promote it or keep the old model. Every decision goes to the audit log.

Example:
    >>> result = run_nightly(config)             # a NightlyConfig              # doctest: +SKIP
    >>> result.decision                                                         # doctest: +SKIP
    'promoted'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from framework.monitor.nightly_config import NightlyConfig

__all__ = ["NightlyResult", "run_nightly"]

Log = Callable[[str], None]


@dataclass
class NightlyResult:
    run_dir: Path
    drift: dict
    decision: str  # "no drift", "promoted", "kept", "retrain off"
    candidate: str | None = None
    promotion: dict = field(default_factory=dict)


def _score(cfg: NightlyConfig, log: Log):
    """Score the day; the run commits its drift report (drift.json, drift.png) with the scores."""
    from framework.score import ScoreConfig, run_scoring

    settings = {**cfg.score.settings, "drift": {**cfg.drift.model_dump(), "enabled": True},
                "run": {"stall_timeout_s": cfg.run.stall_timeout_s}, "workload": cfg.workload}
    score = ScoreConfig(model=cfg.model, input=cfg.score.input, where=cfg.score.where, output=cfg.score.output,
                        run_date=cfg.score.run_date, **settings)
    return run_scoring(score, log=log)


def _drift(run_dir: Path) -> dict:
    from framework.errors import ArtifactError
    from framework.monitor import DRIFT_FILE

    path = run_dir / DRIFT_FILE
    if not path.is_file():
        raise ArtifactError(f"{run_dir}: the scoring run has no {DRIFT_FILE} (the model's bundle has no feature "
                            "profile); the nightly loop cannot decide about retraining without one")
    return json.loads(path.read_text())


def _retrain(cfg: NightlyConfig, log: Log) -> str:
    """Train on the recent window; the run registers itself as a new `candidate` of `registry_name`."""
    from framework.config import load_config
    from framework.train import run_training

    timeout = "null" if cfg.run.stall_timeout_s is None else cfg.run.stall_timeout_s
    overrides = [f"run.stall_timeout_s={timeout}", f"workload={cfg.workload}", *cfg.retrain.overrides, f"registry.name={cfg.registry_name}",
                 "registry.alias=candidate"]
    _, train_cfg = load_config(cfg.retrain.config, overrides, kind="train")
    log(f"[nightly] retraining {train_cfg.run.name} on {train_cfg.data.train}")
    return run_training(train_cfg).model_version


def _gate(cfg: NightlyConfig, version: str, log: Log) -> tuple[str, dict]:
    from dataclasses import asdict

    from framework.registry import PromotionRefused, promote

    gate = cfg.gate
    try:
        decision = promote(cfg.registry_name, version, gate.alias, holdout=gate.holdout, margin=gate.margin, label=gate.label,
                           max_slice_drop=gate.max_slice_drop, min_slice_rows=gate.min_slice_rows)
    except PromotionRefused as refused:
        log(f"[nightly] kept the current @{gate.alias}: {refused}")
        return "kept", {"refused": str(refused)}
    log(f"[nightly] promoted {cfg.registry_name}/{version} to @{gate.alias}: {decision.summary()}")
    return "promoted", asdict(decision)


def run_nightly(cfg: NightlyConfig, log: Log = print) -> NightlyResult:
    from framework.console import log_to
    from framework.governance import AuditLog

    log_to(None, pin=True)  # one log file for the night: scoring, the retrain and the gate
    scored = _score(cfg, log)
    report = _drift(scored.run_dir)
    result = NightlyResult(scored.run_dir, report, "no drift")
    wanted = {"always": True, "never": False}.get(cfg.retrain.when, report["drifted"])
    if wanted:
        version = _retrain(cfg, log)
        result.candidate = f"{cfg.registry_name}/{version}"
        result.decision, result.promotion = _gate(cfg, version, log)
    elif report["drifted"]:
        result.decision = "retrain off"
    model = scored.manifest["model"]
    AuditLog.default().append(
        "nightly", result.decision, model={"name": model["name"], "version": model["version"]},
        data_hash=scored.manifest["input"]["snapshot"],
        details={"run_date": cfg.score.run_date.isoformat(), "breaches": [b["feature"] for b in report["breaches"]],
                 "candidate": result.candidate, "run_dir": str(scored.run_dir)},
    )
    log(f"[nightly] decision: {result.decision}" + (f" (candidate {result.candidate})" if result.candidate else ""))
    return result
