"""A sweep in MLflow and the audit log: one MLflow run per trial, one audit record per sweep.

Each finished trial (complete, stopped early by the scheduler, or failed) becomes an MLflow run of
kind `sweep-trial`, named `<sweep>/trial-<n>`: the trial's whole training config as parameters
(secrets redacted), its per-epoch metrics, the lineage tags (git commit, config hash, data snapshot
hashes, seed) and `raylane.sweep`, `raylane.study_trial`, `raylane.outcome`. Every launch of the
sweep ends with an audit record of action `sweep`.

All of it runs in the driver (Tune callbacks), never in a trial process.

Example:
    >>> tracker = SweepTracker.for_sweep(cfg)                      # doctest: +SKIP
    >>> tracker.trial_finished(3, {"optim.lr": 0.01}, history, "complete")   # doctest: +SKIP
    >>> audit_sweep(cfg, summary, tracker.lineage)                 # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.lineage import code_version, config_hash, data_snapshot
from framework.tune.space import trial_train_dict

__all__ = ["SweepTracker", "audit_sweep"]


@dataclass(frozen=True)
class SweepTracker:
    """What every trial's MLflow run shares: the sweep's name, its base config and its data."""

    sweep_name: str
    base_train: dict
    tied: dict
    lineage: dict  # code, data snapshots and seed (the config hash is per trial)
    log: object = print

    @classmethod
    def for_sweep(cls, cfg, base_train: dict, log=print) -> "SweepTracker":
        data = base_train.get("data", {})
        snapshots = {split: data_snapshot(data[split]) for split in ("train", "valid") if data.get(split)}
        lineage = {"code": code_version(), "data": snapshots, "seed": base_train.get("run", {}).get("seed")}
        return cls(cfg.run.name, base_train, dict(cfg.tied), lineage, log)

    def trial_config(self, params: dict) -> dict:
        return trial_train_dict(self.base_train, params, self.tied)

    def trial_finished(self, number: int, params: dict, history: list[dict], outcome: str) -> str | None:
        """Log one trial; returns its MLflow run id (None, with a warning, if the store refused it)."""
        from framework.registry.tracking import log_run

        config = self.trial_config(params)
        lineage = {**self.lineage, "config_hash": config_hash(config)}
        tags = {"raylane.sweep": self.sweep_name, "raylane.study_trial": str(number), "raylane.outcome": outcome}
        try:
            return log_run("sweep-trial", f"{self.sweep_name}/trial-{number}", config=config,
                           metrics_by_epoch=history, lineage=lineage, tags=tags)
        except Exception as error:  # noqa: BLE001 - a tracking outage must not kill the running sweep
            self.log(f"[sweep] warning: trial {number} was not logged to MLflow: {type(error).__name__}: {error}")
            return None


def audit_sweep(cfg, summary: dict, lineage: dict, outcome: str = "ok") -> dict:
    """The audit record of one sweep launch: its budget, the trials so far and the best one."""
    from framework.governance import AuditLog

    best = summary.get("best") or {}
    train = (lineage.get("data") or {}).get("train") or {}
    return AuditLog.default().append(
        "sweep", outcome, model={"name": cfg.run.name, "version": f"trial-{best.get('trial')}"},
        config_hash=config_hash(cfg.model_dump(mode="json")), data_hash=train.get("hash"),
        details={"sweep": cfg.run.name, "num_samples": cfg.num_samples, "trials": summary.get("trials"),
                 "best_trial": best.get("trial"), "best_values": best.get("values"), "best_params": best.get("params")},
    )
