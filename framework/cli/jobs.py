"""`raylane jobs list|logs ID|stop ID`: jobs on a Ray cluster, through the Jobs API with the token."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone


def _client(args: argparse.Namespace):
    from framework.cluster import jobs_client

    return jobs_client(args.address)


def _ask(action, *args):
    """Ray's SDK reports HTTP errors (unknown id, job already gone) as RuntimeError: make them clean."""
    from framework.cluster import ClusterError

    try:
        return action(*args)
    except RuntimeError as error:
        raise ClusterError(str(error).splitlines()[0]) from None


def _when(milliseconds: int | None) -> str:
    if not milliseconds:
        return "-"
    return datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _list(args: argparse.Namespace) -> int:
    jobs = sorted(_ask(_client(args).list_jobs), key=lambda job: job.start_time or 0)
    if not jobs:
        print("no jobs")
    for job in jobs:
        print(f"{job.submission_id or job.job_id}  {str(job.status):<9}  {_when(job.start_time)}  {job.entrypoint}")
    return 0


def _logs(args: argparse.Namespace) -> int:
    from framework.cluster import exit_code_for, follow_job

    client = _client(args)
    if args.follow:
        _ask(client.get_job_status, args.id)  # an unknown id fails here, cleanly
        status = follow_job(client, args.id, lambda text: (sys.stdout.write(text), sys.stdout.flush()))
        print(f"job {args.id}: {status}", file=sys.stderr)
        return exit_code_for(status)
    sys.stdout.write(_ask(client.get_job_logs, args.id))
    return 0


def _stop(args: argparse.Namespace) -> int:
    stopped = _ask(_client(args).stop_job, args.id)
    print(f"job {args.id}: {'stop requested' if stopped else 'already finished'}")
    return 0


def register(subparsers) -> None:
    jobs = subparsers.add_parser("jobs", help="list jobs on a Ray cluster, show their logs, stop them")
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    address_help = "Jobs API URL (default: $RAY_API_SERVER_ADDRESS, $RAY_ADDRESS, the head from `cluster up`)"

    listing = actions.add_parser("list", help="every job with its status")
    listing.add_argument("--address", help=address_help)
    listing.set_defaults(func=_list)

    logs = actions.add_parser("logs", help="a job's logs")
    logs.add_argument("id", help="submission id (raylane-train-...)")
    logs.add_argument("--follow", "-f", action="store_true", help="stream until the job ends; exit 0 if it succeeded")
    logs.add_argument("--address", help=address_help)
    logs.set_defaults(func=_logs)

    stop = actions.add_parser("stop", help="stop a running job")
    stop.add_argument("id", help="submission id")
    stop.add_argument("--address", help=address_help)
    stop.set_defaults(func=_stop)
