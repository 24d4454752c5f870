"""`raylane ui [--port 5000] [--host 127.0.0.1]`: the MLflow UI on raylane's runs and model registry."""

from __future__ import annotations

import argparse
import sys


def _ui(args: argparse.Namespace) -> int:
    from framework.cluster.spec import is_loopback
    from framework.registry.ui_server import serve_ui

    if not is_loopback(args.host):
        print(f"warning: the MLflow UI will listen on {args.host}, beyond this machine, over plain HTTP and without "
              "authentication: anyone who reaches the port can read the runs and move or delete model versions. "
              f"Prefer the default 127.0.0.1 with an SSH tunnel (ssh -L {args.port}:127.0.0.1:{args.port} HOST).",
              file=sys.stderr)
    return serve_ui(args.host, args.port)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="open the MLflow UI on raylane's runs and model registry",
        description="Starts MLflow's server (the `ui` extra: pip install -e '.[ui]') on raylane's store: "
        "SQLite under $RAYLANE_HOME/mlflow and its artifacts, or the database MLFLOW_TRACKING_URI names. When "
        "MLFLOW_TRACKING_URI is an MLflow server, prints it and exits (that server has the UI). Prints the URL; "
        "Ctrl-C or SIGTERM stops the server and its workers.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    parser.set_defaults(func=_ui)
