"""`raylane demo`: the end-to-end job on the embedded defaults (local Ray, SQLite)."""

from __future__ import annotations

import argparse
from pathlib import Path

from framework.config import load_config

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "jobs" / "configs" / "demo.yaml"


def _demo(args: argparse.Namespace) -> int:
    from jobs import demo

    _, cfg = load_config(args.config, args.overrides, kind="demo")
    demo.main(cfg)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end demo on the embedded defaults",
        description="Generate data and check it against its contract, run a tiny sweep, train a model on Ray Train "
        "and register it, score a held-out day in batch and over HTTP, take a drifted day through the nightly "
        "loop (drift, retrain, gate, promote), then show the registry and verify the audit log.",
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. generate.rows=50000")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="demo config (default: %(default)s)")
    parser.set_defaults(func=_demo)
