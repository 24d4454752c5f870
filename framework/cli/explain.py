"""`raylane explain --model MODEL --data DATA`: permutation importance of each raw column, on Ray Data.

Example:
    $ raylane explain --model ctr@prod --data data/valid --out reports/explain
    $ raylane explain --model runs/ctr-small/bundle --data data/events --where event_date=2026-01-09 --repeats 5
"""

from __future__ import annotations

import argparse
import json

from framework.explain.settings import ExplainSettings  # light: the defaults the options show


def _explain(args: argparse.Namespace) -> int:
    from framework.explain import explain_model, table_lines, write_explanation

    settings = ExplainSettings(max_rows=args.max_rows, repeats=args.repeats, seed=args.seed)
    explanation = explain_model(args.model, args.data, settings, where=args.where, label=args.label, actors=args.actors)
    if args.json:
        print(json.dumps(explanation, indent=2, sort_keys=True))
    else:
        print("\n".join(table_lines(explanation)))
        print(f"model: {explanation['model']['name']} {explanation['model']['version']}")
    if args.out:
        print(f"report: {write_explanation(explanation, args.out)}")
    return 0


def register(subparsers) -> None:
    defaults = ExplainSettings()
    parser = subparsers.add_parser(
        "explain",
        help="permutation importance of each raw input column of a model, on any data",
        description="Shuffle each raw column the model reads across the rows of a seeded sample and score again "
        "through the bundle's own scorer: the importance is the mean drop in AUC (and the increase of logloss) "
        "over the shuffles. Runs on Ray Data; with the validation data and the same settings it gives the "
        "numbers of the bundle's explain.json.",
    )
    parser.add_argument("--model", required=True, help="model: name@alias, name/version or a bundle directory")
    parser.add_argument("--data", required=True, help="Parquet file, directory or glob, with the label column")
    parser.add_argument("--where", action="append", metavar="KEY=VALUE",
                        help="explain on one partition of the table (its hive key=value directories); repeatable")
    parser.add_argument("--out", help="write explain.json and explain.png into this directory")
    parser.add_argument("--repeats", type=int, default=defaults.repeats,
                        help=f"shuffles per column (default {defaults.repeats})")
    parser.add_argument("--max-rows", type=int, default=defaults.max_rows,
                        help=f"rows of the seeded sample that is shuffled and scored (default {defaults.max_rows})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"picks the sample and the shuffles (default {defaults.seed})")
    parser.add_argument("--label", help="the label column (default: the one the bundle's contract names)")
    parser.add_argument("--actors", type=int, help="scoring actors (default: one per CPU of the cluster)")
    parser.add_argument("--json", action="store_true", help="print the full explanation as JSON")
    parser.set_defaults(func=_explain)
