"""The `raylane` command line. Each subcommand lives in its own module with a `register(subparsers)`.

Errors caused by input (RaylaneError) print one clear message and exit non-zero, without a traceback.
Ray's own output goes to a log file whose path is printed once (`--verbose` shows it here instead).

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
_COMMANDS = ("demo", "validate", "data", "features", "train", "sweep", "score", "serve", "nightly", "models", "ui", "drift", "explain", "audit", "cluster", "submit", "jobs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raylane",
        description="Train, tune and score deep-learning models on tabular data with Ray.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show Ray's own logs here instead of in the log file (also RAYLANE_LOG=debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        module = importlib.import_module(f"framework.cli.{name}")
        module.register(subparsers)
    return parser


def report_failure(error: BaseException) -> int:
    """One clear message (no traceback for input errors), with the path of the full log; the exit status."""
    from framework.console import current_log

    log = current_log()
    where = f"\n(full log: {log})" if log else ""
    if isinstance(error, KeyboardInterrupt):
        print(f"interrupted{where}", file=sys.stderr)
        return 130
    print(f"error: {error}{where}", file=sys.stderr)
    return error.exit_code


def run_guarded(action) -> int:
    """Run `action()`; input errors and Ctrl-C become a message and an exit status, other errors keep
    their traceback and get the log's path."""
    from framework.console import current_log

    try:
        return int(action() or 0)
    except (RaylaneError, KeyboardInterrupt) as error:
        return report_failure(error)
    except Exception:
        if current_log():
            print(f"(full log: {current_log()})", file=sys.stderr)
        raise


def main(argv: list[str] | None = None) -> int:
    from framework.console import Console

    parser = build_parser()
    args = parser.parse_args(argv)
    Console.setup(verbose_flag=args.verbose)
    return run_guarded(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
