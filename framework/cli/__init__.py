"""The `raylane` command line. Each subcommand lives in its own module with a `register(subparsers)`.

Errors caused by input (RaylaneError) print one clear message and exit non-zero, without a traceback.

Example:
    $ raylane data generate --rows 100000 --out data/train --seed 7
    $ raylane data check --contract data/train/contract.yaml --data data/train
"""

from __future__ import annotations

import argparse
import importlib
import sys

from framework.errors import RaylaneError

__all__ = ["main", "build_parser"]

# Subcommand modules, in the order `raylane --help` lists them. Only working commands are listed.
_COMMANDS = ("demo", "validate", "data", "features", "train", "sweep", "score", "serve", "nightly", "models", "ui", "drift", "audit", "cluster", "submit", "jobs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raylane",
        description="Train, tune and score deep-learning models on tabular data with Ray.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        module = importlib.import_module(f"framework.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except RaylaneError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
