"""`raylane cluster up|down|status`: a local Ray head node with token auth, loopback by default."""

from __future__ import annotations

import argparse
import json
import sys


def _resources(text: str) -> dict[str, float]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f'not JSON ({error.msg}); e.g. \'{{"trainer": 1}}\'') from None
    if not isinstance(value, dict) or not all(isinstance(v, (int, float)) for v in value.values()):
        raise argparse.ArgumentTypeError('expected a JSON object of numbers, e.g. \'{"trainer": 1}\'')
    return value


def _up(args: argparse.Namespace) -> int:
    from framework.cluster import HeadSpec, exposure_warning, start_head

    spec = HeadSpec(
        host=args.host,
        port=args.port,
        dashboard_port=args.dashboard_port,
        client_port=args.client_port,
        agent_port=args.agent_port,
        num_cpus=args.num_cpus,
        num_gpus=args.num_gpus,
        resources=args.resources,
        object_store_memory=args.object_store_memory,
        temp_dir=args.temp_dir,
    )
    warning = exposure_warning(spec.host)
    if warning:
        print(warning, file=sys.stderr)
    info = start_head(spec)
    print(f"head running (pid {info.pid}); log: {info.log_path}")
    print(f"dashboard and Jobs API: {info.dashboard_url} (token auth on)")
    print(f"token: {info.token_path} (mode 0600)")
    print(f"add a node:   RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={info.token_path} ray start --address={info.gcs_address}")
    print(f"submit:       raylane submit train jobs/configs/train_small.yaml --address {info.dashboard_url}")
    print("or with Ray's CLI:")
    print(
        f"  export RAY_API_SERVER_ADDRESS={info.dashboard_url} RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={info.token_path}"
    )
    print("  ray job submit --working-dir . -- python -m jobs.train jobs/configs/train_small.yaml")
    return 0


def _down(args: argparse.Namespace) -> int:
    from framework.cluster import stop_head

    info = stop_head()
    print(f"head stopped (pid {info.pid}, {info.dashboard_url})")
    return 0


def _token(args: argparse.Namespace) -> int:
    from framework.cluster import ensure_auth_token

    print(ensure_auth_token())
    return 0


def _status(args: argparse.Namespace) -> int:
    from framework.cluster import cluster_usage, jobs_client, list_nodes, read_head_info, resolve_address, resolve_token

    address, token = resolve_address(args.address), resolve_token()
    head = read_head_info()
    if head and head.dashboard_url == address:
        print(f"head: pid {head.pid}, GCS {head.gcs_address}, token {head.token_path}")
    print(f"dashboard and Jobs API: {address}")
    nodes = list_nodes(address, token)
    print(f"nodes: {sum(n.state == 'ALIVE' for n in nodes)} alive, {sum(n.state != 'ALIVE' for n in nodes)} dead")
    for node in nodes:
        role = "head  " if node.is_head else "worker"
        shown = ", ".join(f"{k} {_amount(k, v)}" for k, v in sorted(node.resources.items()))
        print(f"  {node.node_id[:12]} {node.ip:<15} {role} {node.state:<5} {shown}")
    print(cluster_usage(address, token).strip())
    active = [job for job in jobs_client(address, token).list_jobs() if not job.status.is_terminal()]
    print(f"jobs running or pending: {len(active)}")
    for job in active:
        print(f"  {job.submission_id or job.job_id} {job.status} {job.entrypoint}")
    return 0


def _amount(name: str, value: float) -> str:
    if name in ("memory", "object_store_memory"):
        return f"{value / 2**30:.1f} GiB"
    return f"{value:g}"


def register(subparsers) -> None:
    cluster = subparsers.add_parser(
        "cluster",
        help="start, stop and inspect a local Ray head node with token auth",
        description="A local Ray head node. Token auth is always on (token in RAYLANE_HOME/ray/auth_token, "
        "mode 0600); the dashboard and Jobs API listen on 127.0.0.1 unless --host says otherwise.",
    )
    actions = cluster.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)

    up = actions.add_parser("up", help="start the head node")
    up.add_argument("--host", default="127.0.0.1", help="bind address of dashboard + Jobs API (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=6379, help="GCS port (default 6379)")
    up.add_argument("--dashboard-port", type=int, default=8265, help="dashboard and Jobs API port (default 8265)")
    up.add_argument("--client-port", type=int, default=10001, help="Ray Client port (default 10001)")
    up.add_argument("--agent-port", type=int, default=52365, help="dashboard agent port (default 52365)")
    up.add_argument("--num-cpus", type=int, help="CPUs to offer (default: every core)")
    up.add_argument("--num-gpus", type=int, help="GPUs to offer (default: every GPU found)")
    up.add_argument("--resources", type=_resources, default={}, help='custom resources, JSON: \'{"trainer": 1}\'')
    up.add_argument("--object-store-memory", type=int, help="object store size in bytes")
    up.add_argument("--temp-dir", help="Ray's temp/session directory (default /tmp/ray)")
    up.set_defaults(func=_up)

    down = actions.add_parser("down", help="stop the head node started by `cluster up`")
    down.set_defaults(func=_down)

    token = actions.add_parser(
        "token", help="create the auth token file once (0600) and print its path, e.g. for the cluster launcher"
    )
    token.set_defaults(func=_token)

    status = actions.add_parser("status", help="nodes, resources and running jobs")
    status.add_argument("--address", help="Jobs API URL (default: the head from `cluster up`, or $RAY_ADDRESS)")
    status.set_defaults(func=_status)
