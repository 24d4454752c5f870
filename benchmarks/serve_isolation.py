"""Serving kept apart from a nightly scoring run: p99 idle and under load, with and without workload classes.

A local three-node Ray cluster on this machine (head, a `nightly` node, a `serve` node, each a
`ray start` process); one replica of a small bundle served with `raylane serve` (direct ingress), and
the same HTTP load as benchmarks/serve.py (its asyncio generator, `--concurrency` connections) from a
client pinned to core 0. On one machine isolation comes from CPU pinning of the nodes: every process
a raylet starts inherits its CPU affinity (checked below, from /proc, for the replica and the actors).
  classes     head and nightly node pinned to core 1 (`taskset -c 1`), serve node to core 0; the nodes
              declare their classes (labels + resources), so the replica lands on the serve node and
              the scoring actors on the nightly node
  no-classes  the same three nodes unpinned (both cores) and declaring nothing: Ray places the replica
              and the scoring actors anywhere, as on a shared cluster without classes
Each mode: p99 for `--duration` s idle, then again while `raylane submit score ... workload=nightly`
scores `--rows` rows with `--actors` actors (started before the window, stopped after it).

Goal (issue 20): with classes, p99 under load within 20% of idle p99.

    python benchmarks/serve_isolation.py                 # 20 s per window (about 5 minutes)
    python benchmarks/serve_isolation.py --duration 10   # a quick check
Writes benchmarks/results/serve_isolation.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_result  # noqa: E402

GOAL = 1.2  # loaded p99 / idle p99, with classes
CLIENT_CORE = 0


@dataclass(frozen=True)
class NodeSpec:
    name: str
    cores: str  # taskset -c
    num_cpus: int
    classes: tuple[str, ...] = ()


# mode -> nodes (the head first); the same logical CPUs in both modes, only pinning and classes differ
MODES = {
    "classes": (NodeSpec("head", "1", 1), NodeSpec("nightly", "1", 2, ("nightly",)), NodeSpec("serve", "0", 1, ("serve",))),
    "no-classes": (NodeSpec("head", "0,1", 1), NodeSpec("nightly", "0,1", 2), NodeSpec("serve", "0,1", 1)),
}


@dataclass
class LocalCluster:
    url: str
    gcs_address: str
    token: str
    token_path: Path
    processes: list[subprocess.Popen]
    temp_dirs: list[str]


def _ray_start(node: NodeSpec, args: list[str], env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    temp_dir = tempfile.mkdtemp(prefix="rl", dir="/tmp")  # short: Ray's unix socket paths are length-limited
    command = ["taskset", "-c", node.cores, str(Path(sys.executable).parent / "ray"), *args,
               f"--temp-dir={temp_dir}", "--object-store-memory=268435456"]  # fmt: skip
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True), temp_dir


def start_cluster(nodes: tuple[NodeSpec, ...], home: Path) -> LocalCluster:
    """The head, then the other nodes joining it; returns once every node is alive."""
    from benchmarks.serve import _free_port
    from framework.cluster import HeadSpec, ensure_auth_token, head_env, list_nodes, read_auth_token, ray_start_args
    from framework.cluster import http_status, worker_start_args

    token_path = ensure_auth_token(home)
    token, env = read_auth_token(token_path), head_env(token_path)
    head, *workers = nodes
    spec = HeadSpec(port=_free_port(), dashboard_port=_free_port(), client_port=_free_port(), agent_port=_free_port(),
                    num_cpus=head.num_cpus)
    process, temp_dir = _ray_start(head, ray_start_args(spec), env, home / "head.log")
    cluster = LocalCluster(spec.dashboard_url, "", token, token_path, [process], [temp_dir])
    deadline = time.monotonic() + 120
    while not cluster.gcs_address:
        assert process.poll() is None and time.monotonic() < deadline, (home / "head.log").read_text()[-3000:]
        if http_status(f"{spec.dashboard_url}/api/jobs/", token) == 200:
            heads = [n for n in list_nodes(cluster.url, token) if n.is_head and n.state == "ALIVE"]
            cluster.gcs_address = f"{heads[0].ip}:{spec.port}" if heads else ""
        time.sleep(0.5)
    for node in workers:
        args = ["start", "--block", f"--address={cluster.gcs_address}", f"--num-cpus={node.num_cpus}",
                f"--dashboard-agent-listen-port={_free_port()}", "--disable-usage-stats"]  # fmt: skip
        args += worker_start_args(node.classes) if node.classes else []
        process, temp_dir = _ray_start(node, args, env, home / f"{node.name}.log")
        cluster.processes.append(process)
        cluster.temp_dirs.append(temp_dir)
    while len([n for n in list_nodes(cluster.url, token) if n.state == "ALIVE"]) < len(nodes):
        assert time.monotonic() < deadline, "the worker nodes did not join within 120 s"
        time.sleep(0.5)
    return cluster


def stop_cluster(cluster: LocalCluster) -> None:
    """SIGTERM each `ray start --block` (workers first), SIGKILL what outlives it."""
    for process in reversed(cluster.processes):
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    record = Path("/tmp/ray/ray_current_cluster")  # `ray start` records the head; only `ray stop` removes it
    if record.is_file() and record.read_text().strip() == cluster.gcs_address:
        record.unlink()
    for temp_dir in cluster.temp_dirs:
        shutil.rmtree(temp_dir, ignore_errors=True)


def _actors(cluster: LocalCluster, prefix: str) -> list[dict]:
    from framework.cluster import list_alive_actors

    return [a for a in list_alive_actors(cluster.url, cluster.token) if a["class_name"].startswith(prefix)]


def _cores_of(actors: list[dict]) -> list[str]:
    """The CPU affinity of each actor's process (all on this machine), e.g. ['0']."""
    found = []
    for actor in actors:
        status = Path(f"/proc/{actor['pid']}/status").read_text()
        found.append(next(line.split()[1] for line in status.splitlines() if line.startswith("Cpus_allowed_list")))
    return found


def start_serve(cluster: LocalCluster, node: NodeSpec, model: str, port: int, token: str, log: Path) -> subprocess.Popen:
    """`raylane serve` (a driver process on the serve node's cores), returning once it serves."""
    from framework.cluster import auth_env

    env = {**os.environ, **auth_env(cluster.token_path), "RAY_ADDRESS": cluster.gcs_address, "RAYLANE_SERVE_TOKEN": token}
    command = ["taskset", "-c", node.cores, sys.executable, "-m", "framework.cli", "serve", "--model", model,
               "--port", str(port), "model.reload_check_s=0"]  # fmt: skip
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while "[serve] Ctrl-C (or SIGTERM) stops" not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    return process


def start_scoring(cluster: LocalCluster, model: str, day: Path, out: Path, rows: int, actors: int):
    """Submit the nightly scoring job and wait until all its actors run; (client, submission id)."""
    import logging

    from framework.cluster import JobRequest, jobs_client, submit_job

    overrides = [f"model={model}", f"input={day}", f"output={out}", "workload=nightly", "track=false",
                 "drift.enabled=false", f"pool.actors={actors}", f"batch.rows_per_task={max(rows // (4 * actors), 1)}"]  # fmt: skip
    client = jobs_client(cluster.url, cluster.token)
    request = JobRequest("score", str(REPO / "jobs/configs/score.yaml"), overrides, working_dir=str(REPO))
    logging.disable(logging.WARNING)  # Ray logs a line per file it leaves out of the working_dir package
    try:
        submission_id = submit_job(client, request)
    finally:
        logging.disable(logging.NOTSET)
    deadline = time.monotonic() + 180
    while len(_actors(cluster, "MapWorker")) < actors:
        if client.get_job_status(submission_id).is_terminal() or time.monotonic() > deadline:
            raise RuntimeError(f"the scoring job did not start its actors:\n{client.get_job_logs(submission_id)[-3000:]}")
        time.sleep(0.5)
    time.sleep(3)  # the actors load the bundle and start scoring
    return client, submission_id


def stop_scoring(client, submission_id: str) -> bool:
    """Stop the job; whether it was still running (its load covered the whole window)."""
    running = not client.get_job_status(submission_id).is_terminal()
    client.stop_job(submission_id)
    while not client.get_job_status(submission_id).is_terminal():
        time.sleep(0.5)
    return running


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _steal_ticks() -> tuple[int, int]:
    """(steal, all) CPU ticks of the machine: time a VM's vCPUs waited for the host."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return ticks[7], sum(ticks)


def _window(url: str, bodies: list[bytes], token: str, concurrency: int, duration: float, replica_pid: int) -> dict:
    """serve.py's load generator, plus the replica process's CPU time per request (it rises when the
    same work runs slower: caches or memory bandwidth shared with the load) and the VM's steal time."""
    from benchmarks.serve import _load

    cpu, (steal, total) = _cpu_s(replica_pid), _steal_ticks()
    point = asyncio.run(_load(url, bodies, token, concurrency, duration))
    point["replica_cpu_ms_per_request"] = (_cpu_s(replica_pid) - cpu) * 1e3 / max(point["requests"], 1)
    steal_after, total_after = _steal_ticks()
    point["steal_percent"] = 100 * (steal_after - steal) / max(total_after - total, 1)
    return point


def run_mode(mode: str, model: str, bodies: list[bytes], day: Path, work: Path, args) -> dict:
    """One cluster layout: up, replica, idle window, loaded window, down."""
    from benchmarks.serve import _free_port, _stop

    nodes, home, started = MODES[mode], work / mode, time.perf_counter()
    home.mkdir()
    cluster = start_cluster(nodes, home)
    token, port = secrets.token_hex(32), _free_port()
    try:
        serve = start_serve(cluster, nodes[2], model, port, token, home / "serve.log")
        print(f"[bench] {mode}: cluster and replica up in {time.perf_counter() - started:.1f} s", flush=True)
        url = f"http://127.0.0.1:{port}/v1/predict"
        try:
            replica = _actors(cluster, "ServeReplica:raylane:Scorer")
            pid = replica[0]["pid"]
            _window(url, bodies, token, args.concurrency, 3.0, pid)  # warm-up
            result = {"replica_cores": _cores_of(replica), "idle": _window(url, bodies, token, args.concurrency, args.duration, pid)}
            client, submission_id = start_scoring(cluster, model, day, home / "scores", args.rows, args.actors)
            result["scoring_actor_cores"] = _cores_of(_actors(cluster, "MapWorker"))
            result["loaded"] = _window(url, bodies, token, args.concurrency, args.duration, pid)
            result["load_covered_window"] = stop_scoring(client, submission_id)
        finally:
            _stop(serve)
    finally:
        stop_cluster(cluster)
    result["p99_ratio"] = result["loaded"]["p99_ms"] / result["idle"]["p99_ms"]
    for phase in ("idle", "loaded"):
        point = result[phase]
        print(f"[bench] {mode:10s} {phase:6s} c={args.concurrency:<3d} {point['requests_per_s']:7.1f} req/s  "
              f"p50 {point['p50_ms']:6.1f} ms  p99 {point['p99_ms']:6.1f} ms  replica CPU "
              f"{point['replica_cpu_ms_per_request']:.2f} ms/req  steal {point['steal_percent']:.1f}%  "
              f"non-200 {point['non_200']}", flush=True)
    print(f"[bench] {mode:10s} loaded/idle p99 {result['p99_ratio']:.2f}  replica on cores {result['replica_cores']}, "
          f"scoring actors on cores {result['scoring_actor_cores']}, load covered the window: "
          f"{result['load_covered_window']}", flush=True)
    return result


def prepare(work: Path, rows: int, files: int) -> tuple[str, Path, list[bytes]]:
    """A small bundle (train_small's pipeline and dlrm, as benchmarks/score.py builds it), a day of
    `rows` to score and 1-row request bodies from it."""
    import json

    from benchmarks.score import make_bundle
    from framework.data import read_table
    from framework.data.generate import GenerateRequest, write_synthetic_dataset
    from framework.score import BundleScorer

    bundle = make_bundle(work, train_rows=50_000)
    day = work / "day"
    write_synthetic_dataset(day, GenerateRequest(rows=rows, seed=9, start_date="2026-01-02", files_per_day=files))
    columns = BundleScorer(bundle).input_columns
    table = read_table(next(day.rglob("*.parquet"))).select(columns).slice(0, 2000)
    return str(bundle), day, [json.dumps({"rows": [row]}).encode() for row in table.to_pylist()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per window (idle, loaded)")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP connections, each sending back to back")
    parser.add_argument("--rows", type=int, help="rows the nightly scoring run has to score (default: 500,000 per "
                        "second of --duration: more than two unpinned cores score in the window)")
    parser.add_argument("--files", type=int, default=16, help="Parquet files of the scored day")
    parser.add_argument("--actors", type=int, default=2, help="scoring actors (pool.actors), 0.5 CPU each")
    parser.add_argument("--modes", default=",".join(MODES), help=f"any of {tuple(MODES)}")
    args = parser.parse_args()
    args.rows = args.rows or int(max(500_000 * args.duration, 2_000_000))
    if len(os.sched_getaffinity(0)) < 2 or shutil.which("taskset") is None:
        raise SystemExit("serve_isolation: needs at least 2 cores and `taskset` (util-linux)")
    work = Path(tempfile.mkdtemp(prefix="raylane-bench-isolation-"))
    try:
        model, day, bodies = prepare(work, args.rows, args.files)
        os.sched_setaffinity(0, {CLIENT_CORE})  # the HTTP client, in every phase; the nodes are pinned by taskset
        results = {mode: run_mode(mode, model, bodies, day, work, args) for mode in args.modes.split(",")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdict = {}
    if "classes" in results:
        ratio = results["classes"]["p99_ratio"]
        verdict = {"classes: loaded/idle p99": {"value": ratio, "goal": GOAL, "met": ratio <= GOAL}}
        print(f"[bench] goal: with classes, loaded p99 within {GOAL - 1:.0%} of idle p99: "
              f"{ratio:.2f} -> {'met' if ratio <= GOAL else 'not met'}", flush=True)
    note = ("one machine: the nodes are `ray start` processes, and isolation between them comes from CPU pinning "
            "(taskset: classes mode pins head + nightly node to core 1 and the serve node to core 0; no-classes mode "
            f"leaves every node on both cores); the HTTP client runs on core {CLIENT_CORE} in every phase. Pinning "
            "separates CPU time only: the two cores still share caches and memory bandwidth (and, on a VM, the host)")
    layout = {mode: [node.__dict__ for node in MODES[mode]] for mode in results}
    path = write_result("serve_isolation", {"args": vars(args), "note": note, "modes": layout, "results": results, "goals": verdict})
    print(f"[bench] wrote {path}", flush=True)


if __name__ == "__main__":
    with private_raylane_home():
        main()
