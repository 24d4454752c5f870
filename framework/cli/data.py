"""`raylane data generate` and `raylane data check`."""

from __future__ import annotations

import argparse
import sys

from framework.data import check_dataset, load_contract
from framework.data.generate import GenerateRequest, write_synthetic_dataset


def _print_progress(done: int, total: int, seconds: float) -> None:
    rate = done / seconds if seconds else 0.0
    print(f"generated {done:,}/{total:,} rows ({rate:,.0f} rows/s)", file=sys.stderr, flush=True)


def _generate(args: argparse.Namespace) -> int:
    request = GenerateRequest(
        rows=args.rows,
        seed=args.seed,
        days=args.days,
        start_date=args.start_date,
        drift=args.drift,
        files_per_day=args.files_per_day,
    )
    result = write_synthetic_dataset(args.out, request, progress=_print_progress)
    rate = result.rows / result.seconds if result.seconds else 0.0
    print(f"wrote {result.rows:,} rows in {result.files} files to {result.out} ({result.seconds:.1f} s, {rate:,.0f} rows/s)")
    print(f"contract: {result.out}/contract.yaml")
    return 0


def _check(args: argparse.Namespace) -> int:
    contract = load_contract(args.contract)
    if args.extra_columns:
        contract = contract.model_copy(update={"extra_columns": args.extra_columns})
    report = check_dataset(contract, args.data)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="generate synthetic data; check data against a contract")
    commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    generate = commands.add_parser(
        "generate",
        help="write synthetic Criteo-like Parquet with a planted click model",
        description="Write hive-partitioned Parquet (event_date=YYYY-MM-DD/) and its contract.yaml.",
    )
    generate.add_argument("--rows", type=int, required=True, help="number of rows")
    generate.add_argument("--out", required=True, help="output directory (replaced atomically)")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument("--days", type=int, default=1, help="event_date partitions (default 1)")
    generate.add_argument("--start-date", default="2026-01-01", help="first event_date, YYYY-MM-DD")
    generate.add_argument("--drift", type=float, default=0.0, help="0 = none ... 1 = strong drift")
    generate.add_argument("--files-per-day", type=int, default=4, help="Parquet files per day (default 4)")
    generate.set_defaults(func=_generate)

    check = commands.add_parser(
        "check",
        help="check Parquet files against a contract; report every problem",
        description="Exit 0 when every file matches the contract, 1 when any problem is found.",
    )
    check.add_argument("--contract", required=True, help="contract YAML file")
    check.add_argument("--data", required=True, help="Parquet file, directory or glob")
    check.add_argument("--extra-columns", choices=("error", "ignore"), help="override the contract's policy")
    check.set_defaults(func=_check)
