"""`raylane serve --model MODEL [--host 127.0.0.1] [--port 8000] [--token-file F | --no-auth] [--config C] [key=value ...]`."""

from __future__ import annotations

import argparse

from framework.config import apply_overrides, read_yaml, validate_mapping
from framework.errors import ConfigError


def _flag_overrides(args: argparse.Namespace) -> list[str]:
    overrides = []
    if args.model:
        overrides.append(f"model.path={args.model}")
    if args.host:
        overrides.append(f"server.host={args.host}")
    if args.port:
        overrides.append(f"server.port={args.port}")
    if args.token_file:
        overrides.append(f"server.auth.token_file={args.token_file}")
    if args.no_auth:
        overrides.append("server.auth.mode=none")
    return overrides


def config_from_args(args: argparse.Namespace):
    """The ServeConfig: --config (or the embedded defaults), then key=value overrides, then the flags."""
    if args.no_auth and args.token_file:
        raise ConfigError("--no-auth and --token-file contradict each other; pass one of them")
    mapping = read_yaml(args.config) if args.config else {}
    mapping = apply_overrides(mapping or {}, [*args.overrides, *_flag_overrides(args)])
    if "model" not in mapping:
        raise ConfigError("raylane serve: which model? pass --model BUNDLE_DIR (or model.path in --config)")
    return validate_mapping(mapping, kind="serve", source=args.config or "raylane serve")[1]


def _serve(args: argparse.Namespace) -> int:
    from jobs import serve

    serve.main(config_from_args(args))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model bundle over HTTP with Ray Serve (POST /v1/predict)",
        description="Real-time scoring: a Ray Serve application with dynamic batching, bearer-token auth, "
        "/healthz and Prometheus /metrics. The token comes from $RAYLANE_SERVE_TOKEN or --token-file. "
        "Ctrl-C stops serving.",
    )
    parser.add_argument("--model", help="a model bundle directory (runs/<name>/bundle)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000)")
    parser.add_argument("--token-file", help="file holding the bearer token (mode 0600)")
    parser.add_argument("--no-auth", action="store_true", help="serve without authentication (prints a warning)")
    parser.add_argument("--config", help="serve config YAML (see jobs/configs/serve.yaml); flags override it")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. batching.max_batch_size=128")
    parser.set_defaults(func=_serve)
