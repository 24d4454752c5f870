"""`raylane drift --model MODEL --data GLOB`: the scoring run's drift check, on its own.

Example:
    $ raylane drift --model runs/ctr-small/bundle --data 'data/day2/**/*.parquet' --out reports/day2
    $ raylane drift --model ctr@prod --data data/events --where event_date=2026-01-09
"""

from __future__ import annotations

import argparse
import json


def _importance(breach: dict) -> str:
    """`, importance 0.0123 (C1, C4)` when the bundle was explained; the largest of the raw columns'."""
    if "columns" not in breach:
        return ""
    value = "unknown" if breach["importance"] is None else f"{breach['importance']:.4f}"
    return f", importance {value} ({', '.join(breach['columns'])})"


def _print(report: dict) -> None:
    print(f"{'feature':<16} {'kind':<12} {'psi':>8} {'oov share':>10}")
    breached = {b["feature"] for b in report["breaches"]}
    rows = [*report["features"].items(), ("prediction", {"kind": "prediction", **report["prediction"]})]
    for name, row in sorted(rows, key=lambda item: -item[1]["psi"]):
        oov = f"{row['oov_share']:.3f}" if row.get("oov_share") is not None else "-"
        print(f"{name:<16} {row['kind']:<12} {row['psi']:>8.4f} {oov:>10}{'  BREACH' if name in breached else ''}")
    for breach in report["breaches"]:
        print(f"breach: {breach['feature']} {breach['metric']} {breach['value']:.4f} > {breach['threshold']}{_importance(breach)}")
    state = f"DRIFTED ({len(report['breaches'])} breach(es))" if report["drifted"] else "no drift"
    print(f"drift: {state} on {report['rows']:,} rows against {report['model']['name']} {report['model']['version']}")


def _drift(args: argparse.Namespace) -> int:
    from framework.monitor import DriftThresholds, check_drift, write_drift_report

    thresholds = DriftThresholds(psi=args.psi, prediction_psi=args.prediction_psi, oov_share_increase=args.oov_increase)
    report = check_drift(args.model, args.data, thresholds, sample_rows=args.sample_rows, where=args.where)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print(report)
    if args.out:
        print(f"report: {write_drift_report(report, args.out)}")
    return 3 if report["drifted"] and args.fail_on_drift else 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "drift",
        help="compare data with a model's training profile (PSI, unseen categories)",
        description="PSI per model input and for the predictions, and the share of categories outside the "
        "training vocabulary, against the feature profile in the model bundle. Breaches are listed by feature.",
    )
    parser.add_argument("--model", required=True, help="model bundle directory")
    parser.add_argument("--data", required=True, help="Parquet file, directory or glob")
    parser.add_argument("--where", action="append", metavar="KEY=VALUE",
                        help="check one partition of the table (its hive key=value directories); repeatable")
    parser.add_argument("--out", help="write drift.json and drift.png into this directory")
    parser.add_argument("--psi", type=float, default=0.2, help="PSI threshold per feature (default 0.2)")
    parser.add_argument("--prediction-psi", type=float, default=0.2, help="PSI threshold for the predictions (default 0.2)")
    parser.add_argument("--oov-increase", type=float, default=0.05,
                        help="breach when the out-of-vocabulary share grows by more than this (default 0.05)")
    parser.add_argument("--sample-rows", type=int, default=200_000, help="rows compared, a seeded sample (default 200000)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 3 when any threshold is breached")
    parser.set_defaults(func=_drift)
