"""Hyperparameter sweeps: Ray Tune + OptunaSearch over an Optuna RDB study, every trial a training run.

    raylane sweep jobs/configs/sweep_small.yaml [key=value ...] [--retrain-best]

The study (SQLite under the sweep directory by default, or any Optuna database URL) is the one
durable record: a killed driver is resumed by rerunning the same command, which fails and requeues
the trials it left RUNNING and runs the rest of the budget. Samplers: tpe (default), random, qmc,
and cmaes (opt-in: it pickles state into the database). Schedulers: asha (default with one
objective), none, pbt.

Example:
    >>> from framework.config import load_config
    >>> from framework.tune import run_sweep
    >>> _, cfg = load_config("jobs/configs/sweep_small.yaml", ["num_samples=4"], kind="sweep")
    >>> result = run_sweep(cfg)
    >>> result.summary["best"]["params"]
"""

from __future__ import annotations

__all__ = ["SweepConfig", "SweepResult", "retrain_best", "run_sweep", "tiny_sweep"]


def __getattr__(name: str):
    # Ray and Optuna load only when a sweep runs, so `import framework.tune` stays cheap.
    if name == "SweepConfig":
        from framework.tune.config import SweepConfig

        return SweepConfig
    if name in ("SweepResult", "run_sweep"):
        from framework.tune import runner

        return getattr(runner, name)
    if name == "retrain_best":
        from framework.tune.retrain import retrain_best

        return retrain_best
    if name == "tiny_sweep":
        from framework.tune.tiny import tiny_sweep

        return tiny_sweep
    raise AttributeError(f"module 'framework.tune' has no attribute {name!r}")
