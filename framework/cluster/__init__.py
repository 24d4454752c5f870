"""Ray clusters: a local head node with token auth, and jobs submitted through the Ray Jobs API.

- `spec`: `HeadSpec` (typed, loopback by default) and the `ray start` command it becomes; the
  `ray start` flags that make a node accept workload classes.
- `token`: the auth token file, generated once with mode 0600 under `RAYLANE_HOME/ray/`.
- `head`: `start_head` / `stop_head` / `read_head_info` for that one head node.
- `dashboard`: authenticated HTTP calls (nodes, resources, actors) to any head.
- `jobs`, `follow`: `JobSubmissionClient` with the token, submission of `python -m jobs.<job>`, log streaming.

Ray is imported only inside the functions that talk to a cluster, so `import framework.cluster` is cheap.

Example:
    >>> from framework.cluster import HeadSpec, start_head, jobs_client, JobRequest, submit_job
    >>> start_head(HeadSpec(num_cpus=2))
    >>> submit_job(jobs_client(), JobRequest("train", "jobs/configs/train_small.yaml"))
"""

from framework.cluster._errors import ClusterError
from framework.cluster.dashboard import NodeSummary, cluster_usage, http_status, list_actors, list_alive_actors, list_nodes
from framework.cluster.follow import exit_code_for, follow_job, wait_for_job
from framework.cluster.head import HeadInfo, head_env, read_head_info, start_head, stop_head
from framework.cluster.jobs import (
    JOBS,
    WORKING_DIR_EXCLUDES,
    JobRequest,
    check_config,
    entrypoint_for,
    jobs_client,
    resolve_address,
    resolve_token,
    runtime_env_for,
    submit_job,
)
from framework.cluster.spec import (
    HeadSpec,
    accept_workloads,
    exposure_warning,
    is_loopback,
    ray_start_args,
    worker_start_args,
)
from framework.cluster.token import auth_env, auth_headers, auth_token_path, ensure_auth_token, read_auth_token

__all__ = [
    "ClusterError",
    "HeadInfo",
    "HeadSpec",
    "JOBS",
    "JobRequest",
    "NodeSummary",
    "WORKING_DIR_EXCLUDES",
    "accept_workloads",
    "auth_env",
    "auth_headers",
    "auth_token_path",
    "check_config",
    "cluster_usage",
    "ensure_auth_token",
    "entrypoint_for",
    "exit_code_for",
    "exposure_warning",
    "follow_job",
    "head_env",
    "http_status",
    "is_loopback",
    "jobs_client",
    "list_actors",
    "list_alive_actors",
    "list_nodes",
    "ray_start_args",
    "read_auth_token",
    "read_head_info",
    "resolve_address",
    "resolve_token",
    "runtime_env_for",
    "start_head",
    "stop_head",
    "submit_job",
    "wait_for_job",
    "worker_start_args",
]
