"""`raylane models list|show|register|promote|rollback`: the MLflow model registry.

Example:
    $ raylane models list
    $ raylane models show ctr@prod
    $ raylane models promote ctr 4 --alias prod --holdout data/holdout --margin 0.002 --max-slice-drop 0.04
    $ raylane models rollback ctr --alias prod
"""

from __future__ import annotations

import argparse
import json

from framework.registry.slice_gate import DEFAULT_MAX_SLICE_DROP, DEFAULT_MIN_SLICE_ROWS


def _list(args: argparse.Namespace) -> int:
    from framework.registry import list_models, tracking_uri

    models = list_models()
    if not models:
        print(f"no registered models in {tracking_uri()}")
    for model in models:
        aliases = ", ".join(f"@{alias} -> {version}" for alias, version in sorted(model["aliases"].items())) or "no aliases"
        print(f"{model['name']}: versions {', '.join(map(str, model['versions']))}; {aliases}")
    return 0


def _card(details: dict) -> str | None:
    from framework.registry.versions import resolve_model

    path, _ = resolve_model(f"{details['name']}/{details['version']}")
    card = path / "model_card.md"
    return card.read_text() if card.is_file() else None


def _show(args: argparse.Namespace) -> int:
    from framework.registry import version_details

    reference = args.model if ("@" in args.model or "/" in args.model) else f"{args.model}@prod"
    details = version_details(reference)
    if args.json:
        print(json.dumps(details, indent=2, sort_keys=True))
        return 0
    print(f"{details['name']}/{details['version']}  aliases: {', '.join('@' + a for a in details['aliases']) or '-'}")
    print(f"source: {details['source']}  run: {details['run_id']}")
    for key, value in sorted(details["metrics"].items()):
        print(f"  metric {key}: {value:.6g}")
    for key, value in sorted(details["lineage"].items()):
        print(f"  {key}: {value}")
    card = _card(details)
    print("\n" + card if card else "\n(no model card in this version's bundle)")
    return 0


def _register(args: argparse.Namespace) -> int:
    from framework.registry import register_trained_bundle

    registered = register_trained_bundle(args.name, args.bundle, alias=args.alias)
    print(f"registered {registered.name}/{registered.version} as @{registered.alias} (run {registered.run_id})")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from framework.registry import promote

    decision = promote(args.name, args.version, args.alias, holdout=args.holdout, margin=args.margin, force=args.force,
                       max_slice_drop=args.max_slice_drop, min_slice_rows=args.min_slice_rows)
    print(decision.summary())
    print(f"promoted {decision.name}/{decision.version} to @{decision.alias}" + (" (forced, recorded)" if decision.forced else ""))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from framework.registry import rollback

    decision = rollback(args.name, args.alias)
    print(f"rolled back {decision.name}@{decision.alias}: version {decision.previous} -> {decision.version}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="the model registry: versions, aliases, gated promotion, rollback",
        description="MLflow model registry (SQLite under $RAYLANE_HOME by default, or $MLFLOW_TRACKING_URI).")
    commands = parser.add_subparsers(dest="models_command", metavar="COMMAND", required=True)
    commands.add_parser("list", help="registered models, versions and aliases",
                        description="Every registered model with its versions and aliases.").set_defaults(func=_list)
    show = commands.add_parser("show", help="metrics, lineage and model card of a version",
                               description="NAME (its @prod), NAME/VERSION or NAME@ALIAS.")
    show.add_argument("model", metavar="NAME[/VERSION|@ALIAS]")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)
    add = commands.add_parser("register", help="register a model bundle as a new version",
                              description="Log a bundle directory to MLflow and register it (alias: candidate).")
    add.add_argument("name")
    add.add_argument("bundle", help="model bundle directory")
    add.add_argument("--alias", default="candidate")
    add.set_defaults(func=_register)
    promote = commands.add_parser("promote", help="move an alias to a version, gated on holdout AUC",
                                  description="Refused unless VERSION beats the alias's current version on --holdout by "
                                  "more than --margin and loses no more than --max-slice-drop AUC on any slice (a value "
                                  "of its card.slices columns) with --min-slice-rows holdout rows; --force overrides "
                                  "and is recorded in the audit log.")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--alias", default="prod")
    promote.add_argument("--holdout", help="Parquet file, directory or glob with the label column")
    promote.add_argument("--margin", type=float, default=0.0, help="AUC the candidate must gain (default 0.0)")
    promote.add_argument("--max-slice-drop", type=float, default=DEFAULT_MAX_SLICE_DROP,
                         help=f"AUC the candidate may lose on any one slice (default {DEFAULT_MAX_SLICE_DROP})")
    promote.add_argument("--min-slice-rows", type=int, default=DEFAULT_MIN_SLICE_ROWS,
                         help=f"holdout rows a slice needs to be gated (default {DEFAULT_MIN_SLICE_ROWS})")
    promote.add_argument("--force", action="store_true", help="promote even if the gate refuses (recorded)")
    promote.set_defaults(func=_promote)
    back = commands.add_parser("rollback", help="return an alias to the version before",
                               description="Point the alias back at the version it pointed to before the current one.")
    back.add_argument("name")
    back.add_argument("--alias", default="prod")
    back.set_defaults(func=_rollback)
