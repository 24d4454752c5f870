"""`raylane validate CONFIG [key=value ...]`: check any job config without running it."""

from __future__ import annotations

import argparse

from framework.config import CONFIG_KINDS, load_config


def _validate(args: argparse.Namespace) -> int:
    kind, _ = load_config(args.config, args.overrides, kind=args.kind)
    print(f"ok: {args.config} is a valid {kind} config")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a job config (YAML plus key=value overrides)",
        description="Validate a config; errors name the field, the value and what is allowed.",
    )
    parser.add_argument("config", help="YAML config file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. optim.lr=0.01")
    parser.add_argument("--kind", choices=sorted(CONFIG_KINDS), help="config kind (detected by default)")
    parser.set_defaults(func=_validate)
