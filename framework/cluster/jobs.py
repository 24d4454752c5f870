"""Submitting raylane jobs through the Ray Jobs API (`JobSubmissionClient`), with the auth token.

A job is `python -m jobs.<job> CONFIG key=value...`, run in a copy of the project: the runtime env's
`working_dir` is the project, minus data, virtual environments, run outputs and `.git`. So the
config path must lie inside the project, and data paths in it must be ones the cluster can read
(absolute paths on a local head, `s3://`/`gs://` on a cloud cluster).

Example:
    >>> request = JobRequest(job="train", config="jobs/configs/train_small.yaml", overrides=["optim.epochs=1"])
    >>> client = jobs_client()                  # the head from `raylane cluster up`, or $RAY_ADDRESS
    >>> submission_id = submit_job(client, request)
"""

from __future__ import annotations

import os
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from framework.cluster._errors import ClusterError
from framework.cluster.head import read_head_info
from framework.cluster.token import auth_headers, auth_token_path, read_auth_token

__all__ = [
    "JOBS",
    "WORKING_DIR_EXCLUDES",
    "JobRequest",
    "resolve_address",
    "resolve_token",
    "jobs_client",
    "entrypoint_for",
    "runtime_env_for",
    "submit_job",
    "check_config",
]

# The jobs `raylane submit` knows; each is the module `jobs/<name>.py`.
JOBS = ("train", "sweep", "score", "nightly")

# gitignore-style, relative to the project root. A leading "/" anchors to the root, so "/data" skips
# the data folder but keeps the `framework/data` package.
WORKING_DIR_EXCLUDES = [
    "/.git", "/.venv", "/venv", "/env", "/data", "/runs", "/mlruns", "/.raylane",
    "__pycache__", "*.pyc", "*.egg-info", "/.pytest_cache", "/benchmarks/results",
]  # fmt: skip

_DEFAULT_ADDRESS = "http://127.0.0.1:8265"


@dataclass(frozen=True)
class JobRequest:
    """One job to submit: which job, its config (a path inside `working_dir`) and `key=value` overrides."""

    job: str
    config: str
    overrides: list[str] = field(default_factory=list)
    working_dir: str = "."

    def __post_init__(self) -> None:
        if self.job not in JOBS:
            raise ClusterError(f"unknown job {self.job!r}; expected one of {', '.join(JOBS)}")
        for item in self.overrides:
            if "=" not in item:
                raise ClusterError(f"override {item!r} is not key=value")


def resolve_address(address: str | None = None) -> str:
    """The Jobs API URL: the argument, then $RAY_API_SERVER_ADDRESS, then an http(s) $RAY_ADDRESS,
    then the head from `raylane cluster up`, then Ray's default http://127.0.0.1:8265."""
    ray_address = os.environ.get("RAY_ADDRESS", "")
    for candidate in (address, os.environ.get("RAY_API_SERVER_ADDRESS")):
        if candidate:
            return candidate.rstrip("/")
    if ray_address.startswith(("http://", "https://")):
        return ray_address.rstrip("/")
    head = read_head_info()
    return head.dashboard_url if head else _DEFAULT_ADDRESS


def resolve_token() -> str | None:
    """The token to send: $RAY_AUTH_TOKEN, then the file $RAY_AUTH_TOKEN_PATH, then raylane's token file.
    None when there is none (the request then fails with 401 on a cluster with token auth)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        # A file the user named (e.g. Ray's ~/.ray/auth_token): use it as Ray would, without the 0600 rule.
        return read_auth_token(Path(os.environ["RAY_AUTH_TOKEN_PATH"]).expanduser(), require_private=False)
    path = auth_token_path()
    return read_auth_token(path) if path.is_file() else None


def jobs_client(address: str | None = None, token: str | None = None):
    """A `JobSubmissionClient` that sends `Authorization: Bearer <token>` on every request."""
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    url = resolve_address(address)
    token = token if token is not None else resolve_token()
    try:
        return JobSubmissionClient(url, headers=auth_headers(token))
    except AuthenticationError as error:
        raise ClusterError(f"{url} rejected the auth token: {str(error).splitlines()[0]}") from None
    except ConnectionError as error:
        raise ClusterError(f"cannot reach the Ray Jobs API at {url}: {error}") from None


def _config_inside(request: JobRequest) -> str:
    root = Path(request.working_dir).resolve()
    config = Path(request.config)
    config = (config if config.is_absolute() else Path.cwd() / config).resolve()
    if not config.is_file():
        raise ClusterError(f"config {request.config} does not exist")
    if not config.is_relative_to(root):
        raise ClusterError(f"config {request.config} is outside the project {root}, which is all the cluster receives")
    return config.relative_to(root).as_posix()


def entrypoint_for(request: JobRequest) -> str:
    """`python -m jobs.<job> CONFIG key=value...`, the command the cluster runs in the project copy."""
    root = Path(request.working_dir).resolve()
    if not (root / "jobs" / f"{request.job}.py").is_file():
        raise ClusterError(
            f"job {request.job!r} is not available: {root / 'jobs' / (request.job + '.py')} does not exist (yet)"
        )
    return shlex.join(["python", "-m", f"jobs.{request.job}", _config_inside(request), *request.overrides])


def runtime_env_for(request: JobRequest) -> dict:
    """The project as `working_dir`, without data, environments, outputs or `.git`."""
    return {"working_dir": str(Path(request.working_dir).resolve()), "excludes": list(WORKING_DIR_EXCLUDES)}


def submit_job(client, request: JobRequest) -> str:
    """Submit and return the submission id (`raylane-<job>-<random>`)."""
    return client.submit_job(
        entrypoint=entrypoint_for(request),
        runtime_env=runtime_env_for(request),
        submission_id=f"raylane-{request.job}-{secrets.token_hex(4)}",
        metadata={"raylane_job": request.job, "config": request.config},
    )


def check_config(request: JobRequest) -> None:
    """Validate the config here, before anything is uploaded, when raylane knows its kind."""
    from framework.config import CONFIG_KINDS, load_config

    if request.job in CONFIG_KINDS:
        load_config(request.config, request.overrides, kind=request.job)
