"""`raylane score`: batch-score one day of Parquet with a model bundle, or verify a committed run.

Example:
    $ raylane score --model runs/ctr-small/bundle --input data/day --output scores --run-date 2026-01-04 \\
          --passthrough event_date
    $ raylane score --verify scores/run_date=2026-01-04
"""

from __future__ import annotations

import argparse

from framework.errors import ConfigError

_REQUIRED = ("model", "input", "output", "run_date")


def _verify(run_dir: str) -> int:
    from framework.score import verify_run

    report = verify_run(run_dir)
    print(report.summary())
    for problem in report.problems:
        print(f"  {problem}")
    return 0 if report.ok else 1


def _config(args: argparse.Namespace):
    from framework.config import validate_mapping

    missing = [f"--{name.replace('_', '-')}" for name in _REQUIRED if getattr(args, name) is None]
    if missing:
        raise ConfigError(f"raylane score: {', '.join(missing)} required (or --verify RUN_DIR)")
    mapping = {name: getattr(args, name) for name in _REQUIRED}
    mapping.update(id_column=args.id_column, max_reject_fraction=args.max_reject_fraction, where=args.where or [])
    mapping["passthrough"] = [name.strip() for name in (args.passthrough or "").split(",") if name.strip()]
    batch = {"rows": args.batch_rows, "predict_rows": args.predict_batch_rows, "rows_per_task": args.rows_per_task}
    mapping["batch"] = {key: value for key, value in batch.items() if value is not None}
    pool = {"actors": args.actors, "cpus_per_actor": args.cpus_per_actor}
    mapping["pool"] = {key: value for key, value in pool.items() if value is not None}
    return validate_mapping(mapping, kind="score", source="raylane score")[1]


def _score(args: argparse.Namespace) -> int:
    if args.verify:
        return _verify(args.verify)
    from jobs import score

    score.main(_config(args))
    return 0


def _actors(text: str):
    return text if text == "auto" else int(text)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "score",
        help="batch-score Parquet with a model bundle (exactly once), or verify a committed run",
        description="Check the input against the bundle's contract, score it in a Ray Data actor pool and "
        "commit OUTPUT/run_date=YYYY-MM-DD atomically (manifest.json, then _SUCCESS). A rerun replaces the "
        "committed run; a crashed run, rerun, resumes from its staging ledger.",
    )
    parser.add_argument("--model", help="model bundle directory (runs/<name>/bundle)")
    parser.add_argument("--input", help="Parquet file, directory or glob; local or s3://, gs://")
    parser.add_argument("--where", action="append", metavar="KEY=VALUE",
                        help="score one partition of the input table (its hive key=value directories); repeatable")
    parser.add_argument("--output", help="output root (local or mounted); the run goes to OUTPUT/run_date=YYYY-MM-DD/")
    parser.add_argument("--run-date", dest="run_date", metavar="YYYY-MM-DD")
    parser.add_argument("--id-column", dest="id_column", default="id", help="row id column (default: id)")
    parser.add_argument("--passthrough", metavar="COL,...", help="input columns copied to the output")
    parser.add_argument("--max-reject-fraction", dest="max_reject_fraction", type=float, default=0.001,
                        help="fail without publishing when more rows are rejected (default: 0.001)")
    parser.add_argument("--batch-rows", dest="batch_rows", type=int,
                        help="rows per chunk read, scored and written (default: 131072)")
    parser.add_argument("--predict-batch-rows", dest="predict_batch_rows", type=int,
                        help="rows per forward pass (default: 4096)")
    parser.add_argument("--rows-per-task", dest="rows_per_task", type=int,
                        help="rows per task, in whole row groups (default: 1048576)")
    parser.add_argument("--actors", type=_actors, help="scoring actors: auto (default) or a count")
    parser.add_argument("--cpus-per-actor", dest="cpus_per_actor", type=float, help="CPUs reserved per actor (default: 0.5)")
    parser.add_argument("--verify", metavar="DIR/run_date=YYYY-MM-DD", help="check a committed run and exit (1 on any problem)")
    parser.set_defaults(func=_score)
