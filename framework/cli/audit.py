"""`raylane audit verify` and `raylane audit show --model NAME/VERSION`.

Example:
    $ raylane audit verify
    ok: 12 records in ~/.raylane/audit/audit.jsonl, hash chain intact
    $ raylane audit show --model ctr/3
"""

from __future__ import annotations

import argparse
import json
import sys

from framework.errors import ConfigError


def _log(args: argparse.Namespace):
    from framework.governance import AuditLog

    return AuditLog(args.log) if args.log else AuditLog.default()


def _verify(args: argparse.Namespace) -> int:
    log = _log(args)
    result = log.verify()
    if result.ok:
        print(f"ok: {result.records} records in {log.path}, hash chain intact")
        return 0
    print(f"error: {log.path}: line {result.first_bad_line}: {result.reason}", file=sys.stderr)
    return 1


def _show(args: argparse.Namespace) -> int:
    name, _, version = args.model.partition("/")
    if not name or not version:
        raise ConfigError(f"--model {args.model!r}: expected NAME/VERSION, e.g. ctr/3")
    records = _log(args).history(name, version)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    if not records:
        print(f"no audit records for {args.model}")
        return 0
    for record in records:
        model = record.get("model") or {}
        which = f"{model.get('name')}/{model.get('version')}" if model else "-"
        commit = (record.get("code_version") or {}).get("git_commit") or "-"
        print(f"#{record['seq']:<4} {record['time']}  {record['who']:<12} {record['action']:<9} {record['outcome']:<9} "
              f"{which:<16} config {str(record.get('config_hash'))[:12]}  data {str(record.get('data_hash'))[:12]}  code {commit[:10]}")
        if record.get("details"):
            print(f"      {json.dumps(record['details'], sort_keys=True)}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="verify the hash-chained audit log, show a model's history",
        description="The audit log ($RAYLANE_AUDIT_LOG, default $RAYLANE_HOME/audit/audit.jsonl) records every "
        "train, sweep, score, promote, rollback and nightly decision, each chained to the one before.",
    )
    commands = parser.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    verify = commands.add_parser("verify", help="check every record and the chain; name the first bad line",
                                 description="Exit 0 if intact, 1 naming the first edited, removed or reordered record.")
    show = commands.add_parser("show", help="the full history behind a model version",
                               description="Every record about NAME/VERSION and the runs that share its config hash.")
    show.add_argument("--model", required=True, metavar="NAME/VERSION")
    show.add_argument("--json", action="store_true", help="print the records as JSON")
    for sub in (verify, show):
        sub.add_argument("--log", help="the audit log (default: $RAYLANE_AUDIT_LOG or $RAYLANE_HOME/audit/audit.jsonl)")
    verify.set_defaults(func=_verify)
    show.set_defaults(func=_show)
