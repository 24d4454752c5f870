"""`raylane submit JOB CONFIG [key=value ...]`: run a job on a Ray cluster through the Jobs API."""

from __future__ import annotations

import argparse
import sys


def _submit(args: argparse.Namespace) -> int:
    from framework.cluster import (
        JobRequest,
        check_config,
        entrypoint_for,
        exit_code_for,
        follow_job,
        jobs_client,
        submit_job,
    )

    request = JobRequest(job=args.job, config=args.config, overrides=list(args.overrides), working_dir=args.working_dir)
    entrypoint_for(request)  # refuse a missing job or a config outside the project before connecting
    check_config(request)
    client = jobs_client(args.address)
    submission_id = submit_job(client, request)
    print(f"submitted {submission_id}: {entrypoint_for(request)}", file=sys.stderr, flush=True)
    if not args.wait:
        print(submission_id)
        print(f"follow it with: raylane jobs logs {submission_id} --follow", file=sys.stderr)
        return 0
    status = follow_job(client, submission_id, lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    print(f"job {submission_id}: {status}", file=sys.stderr)
    return exit_code_for(status)


def register(subparsers) -> None:
    from framework.cluster.jobs import JOBS

    parser = subparsers.add_parser(
        "submit",
        help="submit a job (train, sweep, score, nightly) to a Ray cluster through the Jobs API",
        description="Runs `python -m jobs.JOB CONFIG key=value...` on the cluster, in a copy of the project "
        "(working_dir, without data/, .venv/, runs/ and .git). Data paths in the config must be ones the "
        "cluster can read: absolute paths on a local head, s3:// or gs:// on a cloud cluster. The auth "
        "token comes from $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or RAYLANE_HOME/ray/auth_token.",
    )
    parser.add_argument("job", choices=JOBS, help="which job to run")
    parser.add_argument("config", help="job config YAML, inside the project")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. optim.epochs=3")
    parser.add_argument("--address", help="Jobs API URL (default: $RAY_API_SERVER_ADDRESS, $RAY_ADDRESS, "
                        "the head from `raylane cluster up`, http://127.0.0.1:8265)")  # fmt: skip
    parser.add_argument("--working-dir", default=".", help="the project directory to upload (default .)")
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stream the logs and exit 0 only if the job succeeds (default); --no-wait prints the id and returns",
    )
    parser.set_defaults(func=_submit)
