"""`raylane data generate`, `check`, `contract` (infer one from Parquet) and `import` (CSV/TSV → Parquet).

Example:
    $ raylane data contract --data data/events --label clicked --id event_id --out contract.yaml
    $ raylane data import --format tsv --no-header --contract jobs/configs/criteo_tsv_contract.yaml \
          raw/day_0.gz --out data/criteo
"""

from __future__ import annotations

import argparse
import sys

from framework.data import check_dataset, load_contract
from framework.data.generate import GenerateRequest, write_synthetic_dataset
from framework.progress import ProgressDisplay


def _generate(args: argparse.Namespace) -> int:
    request = GenerateRequest(
        rows=args.rows,
        seed=args.seed,
        days=args.days,
        start_date=args.start_date,
        drift=args.drift,
        files_per_day=args.files_per_day,
    )
    display = ProgressDisplay("generate", total=args.rows, unit="rows")
    try:
        result = write_synthetic_dataset(args.out, request, progress=lambda done, total, seconds: display.update(done))
    finally:
        display.close()
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


def _contract(args: argparse.Namespace) -> int:
    from framework.data.infer_contract import infer_contract, refuse_existing, write_contract

    refuse_existing(args.out, args.force)  # before reading any data
    inferred = infer_contract(args.data, label=args.label, id_column=args.id, name=args.name)
    path = write_contract(inferred, args.out, force=args.force)
    columns = inferred.contract.columns
    roles = {role: sum(c.role == role for c in columns) for role in ("feature", "pii")}
    given = "".join(f", {role} {inferred.contract.role_of(role)!r}" for role in ("label", "id") if inferred.contract.role_of(role))
    print(f"inferred {len(columns)} columns from {inferred.files:,} file(s), {inferred.rows:,} rows: "
          f"{roles['feature']} feature, {roles['pii']} pii{given}")
    for name, reason in inferred.pii.items():
        print(f"  pii {name!r}: {reason}")
    print(f"wrote {path}; review it (roles, nullability, the pii guesses) before importing or training")
    return 0


def _import_progress(display):
    """import_csv's progress callback shown on `display` (bytes read, MB/s, with rows and rejects)."""
    def show(progress) -> None:
        display.total = progress.bytes_total
        display.update(progress.bytes_read, f"{progress.rows:,} rows, {progress.rejected:,} rejected")

    return show


def _delimiter(text: str | None) -> str | None:
    """`\\t` and `tab` for a tab, as a shell passes them."""
    return {"\\t": "\t", "tab": "\t"}.get(text, text) if text is not None else None


def _import(args: argparse.Namespace) -> int:
    from framework.data.csv_import import ImportRequest, import_csv

    request = ImportRequest(source=args.source, contract=args.contract, out=args.out, format=args.format,
                            header=not args.no_header, delimiter=_delimiter(args.delimiter), partition_by=args.partition_by,
                            max_reject_fraction=args.max_reject_fraction, force=args.force)
    display = ProgressDisplay("import", total=1, unit="B", unit_scale=True)
    try:
        result = import_csv(request, progress=_import_progress(display))
    finally:
        display.close()
    print(result.summary())
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="generate synthetic data; check, import (CSV/TSV) data; infer a contract")
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

    contract = commands.add_parser(
        "contract",
        help="infer a contract from existing Parquet, with personal-data guesses, for review",
        description="Write a contract YAML inferred from Parquet files (types, nullability, hive partition columns, "
                    "roles). Columns that look like personal data get role pii and a comment saying why.",
    )
    contract.add_argument("--data", required=True, help="Parquet file, directory or glob (hive partitions too)")
    contract.add_argument("--out", required=True, help="contract YAML to write")
    contract.add_argument("--label", help="the label column (role label)")
    contract.add_argument("--id", help="the row id column (role id)")
    contract.add_argument("--name", help="the contract's name (default: the data directory's name)")
    contract.add_argument("--force", action="store_true", help="overwrite --out when it exists")
    contract.set_defaults(func=_contract)

    imports = commands.add_parser(
        "import",
        help="import CSV or TSV (plain or gzip) into Parquet typed by a contract",
        description="Stream CSV/TSV into Parquet typed by the contract; rows that do not fit go to OUT/_rejected/ "
                    "with line and reason. The output is published atomically, with _SUCCESS and contract.yaml.",
    )
    imports.add_argument("source", nargs="+", metavar="SRC", help="CSV/TSV file(s), directory or glob (.gz, .bz2, .zst read as such)")
    imports.add_argument("--format", choices=("csv", "tsv"), required=True, help="csv: ',' and \"-quoted fields; tsv: tab, no quoting")
    imports.add_argument("--contract", required=True, help="contract YAML: the columns, their types and roles")
    imports.add_argument("--out", required=True, help="output directory (replaced atomically)")
    imports.add_argument("--no-header", action="store_true", help="the first line is data: fields are the contract's columns in order")
    imports.add_argument("--partition-by", metavar="COL", help="write hive partitions COL=value/")
    imports.add_argument("--delimiter", help="field delimiter instead of the format's (one character; \\t or tab for a tab)")
    imports.add_argument("--max-reject-fraction", type=float, default=0.001,
                         help="publish nothing when more rows than this are rejected (default 0.001)")
    imports.add_argument("--force", action="store_true", help="replace an --out that no import wrote")
    imports.set_defaults(func=_import)
