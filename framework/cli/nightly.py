"""`raylane nightly CONFIG [key=value ...]`: score, check drift, retrain and gate on drift."""

from __future__ import annotations

import argparse

from framework.config import load_config


def _nightly(args: argparse.Namespace) -> int:
    from jobs import nightly

    _, cfg = load_config(args.config, args.overrides, kind="nightly")
    nightly.main(cfg)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "nightly",
        help="score the day, check drift, retrain and gate a candidate on drift",
        description="Batch-score the day with the model, compare it with the model's training profile, and when "
        "drift breaches the thresholds: train on the recent window, register it as candidate, gate it against "
        "the alias on holdout data, then promote it or keep the old model. The last line is `decision: ...`.",
    )
    parser.add_argument("config", help="nightly config YAML (see jobs/configs/nightly.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. score.run_date=2026-01-10")
    parser.set_defaults(func=_nightly)
