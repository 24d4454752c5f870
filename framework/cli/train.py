"""`raylane train CONFIG [key=value ...]`."""

from __future__ import annotations

import argparse

from framework.config import load_config


def _train(args: argparse.Namespace) -> int:
    from jobs import train

    _, cfg = load_config(args.config, args.overrides, kind="train")
    train.main(cfg)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model on Ray Train and write a model bundle",
        description="Check data, fit features, train on Ray Train, write the bundle. "
        "Rerunning with the same run.name resumes from the last checkpoint.",
    )
    parser.add_argument("config", help="training config YAML (see jobs/configs/train_small.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. optim.epochs=3 run.name=try2")
    parser.set_defaults(func=_train)
