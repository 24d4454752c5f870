"""`raylane cluster up|down|status|token|join-args`: a local Ray head node with token auth, loopback by
default, and the workload classes (framework.workload) its nodes accept."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter


def _resources(text: str) -> dict[str, float]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f'not JSON ({error.msg}); e.g. \'{{"trainer": 1}}\'') from None
    if not isinstance(value, dict) or not all(isinstance(v, (int, float)) for v in value.values()):
        raise argparse.ArgumentTypeError('expected a JSON object of numbers, e.g. \'{"trainer": 1}\'')
    return value


def _workloads(text: str) -> tuple[str, ...]:
    from framework.errors import ConfigError
    from framework.workload import parse_workloads

    try:
        return parse_workloads(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _up(args: argparse.Namespace) -> int:
    from framework.cluster import HeadSpec, accept_workloads, exposure_warning, start_head
    from framework.workload import declared_classes

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
    if args.workloads:
        spec = accept_workloads(spec, args.workloads)
    warning = exposure_warning(spec.host)
    if warning:
        print(warning, file=sys.stderr)
    info = start_head(spec)
    print(f"head running (pid {info.pid}); log: {info.log_path}")
    print(f"dashboard and Jobs API: {info.dashboard_url} (token auth on)")
    print(f"token: {info.token_path} (mode 0600)")
    for line in join_lines(info.token_path, info.gcs_address, declared_classes(spec.labels, spec.resources)):
        print(line)
    print(f"submit:       raylane submit train jobs/configs/train_small.yaml --address {info.dashboard_url}")
    print("or with Ray's CLI:")
    print(
        f"  export RAY_API_SERVER_ADDRESS={info.dashboard_url} RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={info.token_path}"
    )
    print("  ray job submit --working-dir . -- python -m jobs.train jobs/configs/train_small.yaml")
    return 0


def join_lines(token_path: str, gcs_address: str, classes: tuple[str, ...]) -> list[str]:
    """What `cluster up` prints about the head's workload classes and how to add a node: a node that
    joins with the same classes when the head declares some (else it would accept none of them)."""
    from framework.cluster import worker_start_args

    command = f"RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={shlex.quote(token_path)} ray start --address={gcs_address}"
    if not classes:
        return [f"add a node:   {command}"]
    return [
        f"workload classes: {', '.join(classes)} (raylane jobs of other classes will not run on this head)",
        f"add a node:   {command} {shlex.join(worker_start_args(classes))}",
        "              (for a node of other classes, replace --labels/--resources with the output of "
        "`raylane cluster join-args --workloads serve`)",
    ]


def _join_args(args: argparse.Namespace) -> int:
    from framework.cluster import worker_start_args

    print(shlex.join(worker_start_args(args.workloads)))
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
    from framework.cluster import (
        cluster_usage,
        jobs_client,
        list_alive_actors,
        list_nodes,
        read_head_info,
        resolve_address,
        resolve_token,
    )

    address, token = resolve_address(args.address), resolve_token()
    head = read_head_info()
    if head and head.dashboard_url == address:
        print(f"head: pid {head.pid}, GCS {head.gcs_address}, token {head.token_path}")
    print(f"dashboard and Jobs API: {address}")
    for line in node_lines(list_nodes(address, token), list_alive_actors(address, token)):
        print(line)
    print(cluster_usage(address, token).strip())
    active = [job for job in jobs_client(address, token).list_jobs() if not job.status.is_terminal()]
    print(f"jobs running or pending: {len(active)}")
    for job in active:
        print(f"  {job.submission_id or job.job_id} {job.status} {job.entrypoint}")
    return 0


def node_lines(nodes: list, actors: list[dict]) -> list[str]:
    """The status of each node (`NodeSummary`): resources, the workload classes it accepts, and how many
    alive actors of each class run on it (`actors`: state API records with `node_id` and `class_name`)."""
    from framework.workload import WORKLOAD_CLASSES, resource_name

    hidden = {resource_name(c) for c in WORKLOAD_CLASSES}  # shown as `classes:` instead
    running: dict[str, Counter] = {}
    for actor in actors:
        running.setdefault(actor["node_id"], Counter())[actor["class_name"]] += 1
    alive = [n for n in nodes if n.state == "ALIVE"]
    constrained = any(n.workload_classes for n in alive)
    lines = [f"nodes: {len(alive)} alive, {len(nodes) - len(alive)} dead"]
    if not constrained:
        lines.append("classes: any (no node declares workload classes)")
    for node in nodes:
        role = "head  " if node.is_head else "worker"
        shown = ", ".join(f"{k} {_amount(k, v)}" for k, v in sorted(node.resources.items()) if k not in hidden)
        lines.append(f"  {node.node_id[:12]} {node.ip:<15} {role} {node.state:<5} {shown}")
        if constrained:
            lines.append(f"    classes: {', '.join(node.workload_classes) or 'none (declares no workload class)'}")
        if node.state == "ALIVE":
            counts = running.get(node.node_id, Counter())
            listed = ", ".join(f"{name} x{n}" for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
            lines.append(f"    running: {listed or 'no actors'}")
    return lines


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
    up.add_argument("--workloads", type=_workloads, default=(), metavar="CLASSES",
                    help="workload classes the head accepts, e.g. train,score or all (default: any job runs anywhere "
                    "while no node declares classes)")
    up.add_argument("--object-store-memory", type=int, help="object store size in bytes")
    up.add_argument("--temp-dir", help="Ray's temp/session directory (default /tmp/ray)")
    up.set_defaults(func=_up)

    join = actions.add_parser("join-args", help="the `ray start` flags that make a joining node accept workload classes")
    join.add_argument("--workloads", type=_workloads, required=True, metavar="CLASSES", help="e.g. serve, or train,sweep, or all")
    join.set_defaults(func=_join_args)

    down = actions.add_parser("down", help="stop the head node started by `cluster up`")
    down.set_defaults(func=_down)

    token = actions.add_parser(
        "token", help="create the auth token file once (0600) and print its path, e.g. for the cluster launcher"
    )
    token.set_defaults(func=_token)

    status = actions.add_parser("status", help="nodes, resources and running jobs")
    status.add_argument("--address", help="Jobs API URL (default: the head from `cluster up`, or $RAY_ADDRESS)")
    status.set_defaults(func=_status)
