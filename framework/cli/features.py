"""`raylane features suggest`, `raylane features fit` and `raylane features transform`.

Example:
    $ raylane features suggest --data data/train --contract data/train/contract.yaml --out features.yaml
    $ raylane features fit --pipeline features.yaml --data 'data/train/**/*.parquet' --out artifacts/features
    $ raylane features transform --artifact artifacts/features --data data/test --out data/test-features
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq

from framework.config import read_yaml
from framework.errors import ConfigError, DataError

_DONE_MARKER = "_SUCCESS"


def _summary(verb: str, rows: int, seconds: float) -> str:
    rate = rows / seconds if seconds else 0.0
    return f"{verb} {rows:,} rows in {seconds:.2f} s ({rate:,.0f} rows/s)"


def _pipeline_mapping(path: str) -> dict:
    """The pipeline YAML, or the `features:` section of a full training config."""
    mapping = read_yaml(path)
    if isinstance(mapping, dict) and "ops" not in mapping and isinstance(mapping.get("features"), dict):
        mapping = mapping["features"]
    if not isinstance(mapping, dict):
        raise ConfigError(f"{path}: expected a mapping with an `ops` list (see FEATURES.md)")
    return mapping


def _fit(args: argparse.Namespace) -> int:
    from framework.features import FeaturePipeline

    from framework.data.parquet_io import list_parquet_files

    pipeline = FeaturePipeline.from_yaml_dict(_pipeline_mapping(args.pipeline), source=args.pipeline)
    files = list_parquet_files(args.data)
    if args.contract:
        from framework.data import check_dataset, load_contract

        contract = load_contract(args.contract)
        files = list_parquet_files(files, partition_types=contract.arrow_schema())  # typed hive columns
        check_dataset(contract, files).raise_if_failed()
    started = time.perf_counter()
    pipeline.fit(files, progress=True)  # rows fitted on stderr: a bar on a terminal, lines elsewhere
    pipeline.save(args.out)
    seconds = time.perf_counter() - started
    schema = pipeline.output_schema
    print(f"wrote {args.out}: {len(schema.continuous)} continuous, {len(schema.categorical)} categorical outputs")
    print(_summary("fitted on", pipeline.rows_fitted_, seconds))
    return 0


def _suggest(args: argparse.Namespace) -> int:
    from framework.data import check_dataset, load_contract
    from framework.data.parquet_io import list_parquet_files
    from framework.features.suggest import suggest_features

    out = Path(args.out)
    if out.exists() and not args.force:  # before the pass over the data, not after it
        raise ConfigError(f"{out}: exists; pass --force to replace it")
    contract = load_contract(args.contract)
    files = list_parquet_files(args.data, args.where, contract.arrow_schema())
    check_dataset(contract, files).raise_if_failed()
    started = time.perf_counter()
    suggestion = suggest_features(files, contract, label=args.label, sample_rows=args.sample_rows, seed=args.seed)
    suggestion.write(out, overwrite=args.force)
    print(f"wrote {out}")
    print(f"{suggestion.summary()} ({time.perf_counter() - started:.2f} s)")
    return 0


def _prepare_output(out: Path) -> Path:
    """A fresh staging directory beside `out`; an existing `out` is replaced only if we wrote it."""
    if out.exists() and any(out.iterdir()) and not (out / _DONE_MARKER).exists():
        raise DataError(f"{out}: exists and was not written by `raylane features transform`; choose another --out")
    staging = out.with_name(f".{out.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _transform(args: argparse.Namespace) -> int:
    from framework.data.parquet_io import list_parquet_files, read_file
    from framework.features import FeaturePipeline

    pipeline = FeaturePipeline.load(args.artifact)
    files = list_parquet_files(args.data)
    out = Path(args.out)
    staging = _prepare_output(out)
    started, rows = time.perf_counter(), 0
    for number, path in enumerate(files.paths):
        table = read_file(files, path)
        pq.write_table(pipeline.transform(table), staging / f"part-{number:05d}.parquet")
        rows += table.num_rows
    (staging / _DONE_MARKER).write_text("")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    print(f"wrote {len(files.paths)} file(s) to {out}")
    print(_summary("transformed", rows, time.perf_counter() - started))
    return 0


def register(subparsers) -> None:
    features = subparsers.add_parser("features", help="suggest or fit a feature pipeline; transform data with a fitted one")
    commands = features.add_subparsers(dest="features_command", metavar="ACTION", required=True)

    suggest = commands.add_parser(
        "suggest",
        help="suggest a commented feature pipeline from the data's statistics",
        description="One pass over the data: numeric columns get normalize/fill_missing (log1p when heavy-tailed), "
                    "categorical ones categorify or hash_bucket. Writes the features: section of a training config; "
                    "every choice is commented with the statistic behind it.",
    )
    suggest.add_argument("--data", required=True, help="Parquet file, directory or glob to learn from")
    suggest.add_argument("--contract", required=True, help="contract YAML: types and roles (only role feature gets ops)")
    suggest.add_argument("--out", required=True, help="YAML file to write (a config with a features: section)")
    suggest.add_argument("--force", action="store_true", help="replace --out if it exists")
    suggest.add_argument("--where", action="append", metavar="KEY=VALUE", help="only this partition (repeatable)")
    suggest.add_argument("--label", help="the label column, when the contract has no role label (or another one)")
    suggest.add_argument("--sample-rows", type=int, default=100_000, help="rows sampled for skew/quantiles (default 100000)")
    suggest.add_argument("--seed", type=int, default=0, help="seed of the row sample (default 0)")
    suggest.set_defaults(func=_suggest)

    fit = commands.add_parser(
        "fit",
        help="fit a feature pipeline on Parquet data and save it as an artifact",
        description="Fit the ops of a pipeline YAML (FEATURES.md) on Parquet data; write the artifact directory.",
    )
    fit.add_argument("--pipeline", required=True, help="pipeline YAML (or a config with a features: section)")
    fit.add_argument("--data", required=True, help="Parquet file, directory or glob to fit on")
    fit.add_argument("--out", required=True, help="artifact directory to write (replaced atomically)")
    fit.add_argument("--contract", help="check the data against this contract YAML first")
    fit.set_defaults(func=_fit)

    transform = commands.add_parser(
        "transform",
        help="transform Parquet data with a fitted pipeline artifact",
        description="Write one transformed Parquet file per input file, then a _SUCCESS marker.",
    )
    transform.add_argument("--artifact", required=True, help="artifact directory written by `features fit`")
    transform.add_argument("--data", required=True, help="Parquet file, directory or glob to transform")
    transform.add_argument("--out", required=True, help="output directory for the Parquet files")
    transform.set_defaults(func=_transform)
