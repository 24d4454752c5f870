"""`raylane sweep SWEEP.yaml [key=value ...] [--retrain-best]`."""

from __future__ import annotations

import argparse

from framework.config import load_config


def _sweep(args: argparse.Namespace) -> int:
    from jobs import sweep

    overrides = list(args.overrides) + (["retrain_best=true"] if args.retrain_best else [])
    _, cfg = load_config(args.config, overrides, kind="sweep")
    sweep.main(cfg)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a hyperparameter sweep (Ray Tune + Optuna), resumable",
        description="Sample training configs with an Optuna sampler, train each as a Ray Tune trial "
        "(ASHA or PBT may stop or mutate them), record every trial in an Optuna study, and write "
        "best.json, a summary table and plots. Rerunning the same command resumes a killed sweep. "
        "The last line printed is `best: PATH`.",
    )
    parser.add_argument("config", help="sweep config YAML (see jobs/configs/sweep_small.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. num_samples=16 run.name=try2")
    parser.add_argument("--retrain-best", action="store_true", help="then train the best config on the full data and write its bundle")
    parser.set_defaults(func=_sweep)
