"""Real-time scoring: raylane on Ray Serve (with and without batching) against plain FastAPI + uvicorn.

One run, same machine, same model bundle, same 1-row request bodies, same HTTP load generator
(an asyncio client: aiohttp, keep-alive, `c` connections each sending back to back):
  plain                raylane's FastAPI app (same validation, same BundleScorer) in ONE uvicorn
                       process, no Ray, one model call per request
  raylane-nobatch      `raylane serve` as configured by default on a local Ray (one replica, direct
                       ingress: the replica serves HTTP itself), one model call per request
  raylane-batch        the same with @serve.batch (concurrent requests share one model call)
  raylane-batch-proxy  raylane-batch through Serve's HTTP proxy (server.ingress: proxy, the path
                       several replicas behind one address take)
  serve-default        optional (--setups): raylane-batch-proxy with Serve's default request path
                       (throughput_optimized: false)
Each server runs in its own process (a Ray setup starts its own local Ray with num_cpus=2), gets a
warm-up, then `--duration` seconds at each concurrency. Reported: requests/s, p50, p99, non-200s, and
the CPU time per request of the server's whole process session (uvicorn; or proxy, replica, raylet,
GCS...) and of the client: unlike wall times, these stay meaningful when other work loads the machine.

Goals (issue 6): raylane-batch at c64 ≥ 0.5× plain's requests/s; raylane-batch p99 < 50 ms at c16;
batching never slower than no batching (requests/s at every concurrency, 5% tolerance for noise).

    python benchmarks/serve.py                      # full run: 20 s per point (about 6 minutes)
    python benchmarks/serve.py --duration 3 --concurrency 1,16   # a quick check
Writes benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_result  # noqa: E402

SETUPS = ("plain", "raylane-nobatch", "raylane-batch", "raylane-batch-proxy")
EXTRA_SETUPS = ("serve-default",)
# setup → (batching, ingress, throughput_optimized); the raylane defaults are batching + direct ingress.
RAYLANE_SETUPS = {
    "raylane-nobatch": (False, "direct", True),
    "raylane-batch": (True, "direct", True),
    "raylane-batch-proxy": (True, "proxy", True),
    "serve-default": (True, "proxy", False),
}
THROUGHPUT_GOAL, P99_GOAL_MS, NOISE = 0.5, 50.0, 0.05


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the servers (each in its own process) ------------------------------------------------------------
def _serve_config(model: str, port: int, setup: str, overrides: list[str]):
    from framework.config import apply_overrides, validate_mapping

    batching, ingress, optimized = RAYLANE_SETUPS[setup]
    mapping = {
        "model": {"path": model, "reload_check_s": 0},
        "server": {"port": port, "ingress": ingress},
        "batching": {"enabled": batching},
        "throughput_optimized": optimized,
    }
    return validate_mapping(apply_overrides(mapping, overrides), kind="serve")[1]


def run_server(setup: str, model: str, port: int, overrides: list[str]) -> None:
    """Serve until SIGTERM. Prints READY when /healthz answers."""
    from framework.serve import resolve_token_digest, start_serving, stop_serving

    digest = resolve_token_digest(None)
    if setup == "plain":
        import torch
        import uvicorn

        from framework.serve import ServiceSettings, local_app

        os.environ["RAYLANE_CPU_THREADS"] = "1"  # as in a replica: one core's worth of threads
        torch.set_num_threads(1)
        print("READY", flush=True)
        uvicorn.run(local_app(ServiceSettings(model_place=model, reload_check_s=0, token_digest=digest)),
                    host="127.0.0.1", port=port, log_level="warning", access_log=False)
        return
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    cfg = _serve_config(model, port, setup, overrides)
    endpoint = start_serving(cfg, digest)
    print("READY", flush=True)
    while not stopping:
        time.sleep(0.2)
    stop_serving(endpoint)
    import ray

    ray.shutdown()  # the local Ray this process started goes with it


def _start(setup: str, model: str, port: int, token: str, overrides: list[str]) -> subprocess.Popen:
    env = {**os.environ, "RAYLANE_SERVE_TOKEN": token}
    env.pop("RAY_ADDRESS", None)
    process = subprocess.Popen(
        [sys.executable, __file__, "--run-server", setup, "--model", model, "--port", str(port), *overrides],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
        if process.poll() is not None:
            raise RuntimeError(f"{setup} server exited with {process.returncode}")
    raise RuntimeError(f"{setup} server did not answer /healthz within 300 s")


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def session_cpu_s(session: int) -> float:
    """CPU seconds (user + system) used so far by every live process of a session (a server and the
    Ray processes it started). Counted per request it shows the cost even on a busy machine."""
    total, ticks = 0, os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[3]) == session:  # fields after the command: state ppid pgrp session ...
            total += int(fields[11]) + int(fields[12])
    return total / ticks


# -- the load generator ------------------------------------------------------------------------------
async def _load(url: str, bodies: list[bytes], token: str, concurrency: int, duration_s: float) -> dict:
    import aiohttp

    latencies, failures = [], {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        stop_at = time.perf_counter() + duration_s

        async def client(index: int) -> None:
            turn = index
            while time.perf_counter() < stop_at:
                body = bodies[turn % len(bodies)]
                turn += concurrency
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body) as reply:
                        await reply.read()
                        status = reply.status
                except aiohttp.ClientError as error:
                    status = type(error).__name__
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    failures[str(status)] = failures.get(str(status), 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(concurrency)))
        wall = time.perf_counter() - began
    ms = np.asarray(latencies) * 1e3
    return {"concurrency": concurrency, "requests": len(ms), "requests_per_s": len(ms) / wall,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "non_200": failures}


def measure(setup: str, model: str, bodies: list[bytes], levels: list[int], duration_s: float, overrides: list[str]) -> list[dict]:
    token, port = secrets.token_hex(32), _free_port()
    started = time.perf_counter()
    process = _start(setup, model, port, token, overrides)
    print(f"[bench] {setup}: up in {time.perf_counter() - started:.1f} s", flush=True)
    url = f"http://127.0.0.1:{port}/v1/predict"
    try:
        asyncio.run(_load(url, bodies, token, 16, min(5.0, duration_s)))  # warm-up
        points = []
        for concurrency in levels:
            server_cpu, client_cpu = session_cpu_s(process.pid), time.process_time()
            point = asyncio.run(_load(url, bodies, token, concurrency, duration_s))
            point["server_cpu_ms_per_request"] = (session_cpu_s(process.pid) - server_cpu) * 1e3 / point["requests"]
            point["client_cpu_ms_per_request"] = (time.process_time() - client_cpu) * 1e3 / point["requests"]
            print(f"[bench] {setup:16s} c={concurrency:<3d} {point['requests_per_s']:8.1f} req/s  "
                  f"p50 {point['p50_ms']:7.1f} ms  p99 {point['p99_ms']:7.1f} ms  "
                  f"server CPU {point['server_cpu_ms_per_request']:5.2f} ms/req  non-200 {point['non_200']}", flush=True)
            points.append(point)
        return points
    finally:
        _stop(process)


# -- data, goals, report -----------------------------------------------------------------------------
def prepare(model: str | None, workdir: Path) -> tuple[str, list[bytes]]:
    """The bundle (given, or built on synthetic data like the serving tests) and 1-row request bodies."""
    from framework.data import read_table
    from framework.score import BundleScorer
    from tests.scoring_fakes import generate, make_bundle

    data = generate(workdir / "data", rows=20_000, seed=3)
    bundle = model or str(make_bundle(workdir / "bundle", data))
    columns = BundleScorer(bundle).input_columns
    rows = read_table(data).select(columns).slice(0, 2000).to_pylist()
    return bundle, [json.dumps({"rows": [row]}).encode() for row in rows]


def _at(points: list[dict], concurrency: int) -> dict | None:
    return next((p for p in points if p["concurrency"] == concurrency), None)


def goals(results: dict[str, list[dict]]) -> dict:
    """The issue's goals for raylane's default path (raylane-batch), and the proxy path beside it."""
    plain, nobatch = results.get("plain", []), results.get("raylane-nobatch", [])
    verdict = {}
    for setup in ("raylane-batch", "raylane-batch-proxy"):
        batch = results.get(setup, [])
        if _at(batch, 64) and _at(plain, 64):
            ratio = _at(batch, 64)["requests_per_s"] / _at(plain, 64)["requests_per_s"]
            verdict[f"{setup}: c64 requests/s vs plain"] = {"ratio": ratio, "goal": THROUGHPUT_GOAL, "met": ratio >= THROUGHPUT_GOAL}
        if _at(batch, 16):
            p99 = _at(batch, 16)["p99_ms"]
            verdict[f"{setup}: c16 p99 ms"] = {"value": p99, "goal": P99_GOAL_MS, "met": p99 < P99_GOAL_MS}
    batch = results.get("raylane-batch", [])
    if batch and nobatch:
        ratios = {str(p["concurrency"]): p["requests_per_s"] / _at(nobatch, p["concurrency"])["requests_per_s"]
                  for p in batch if _at(nobatch, p["concurrency"])}
        verdict["batching vs no batching: requests/s"] = {"ratios": ratios, "met": all(r >= 1 - NOISE for r in ratios.values())}
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a bundle to serve (default: a small DLRM built on synthetic data)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per concurrency level")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"any of {SETUPS + EXTRA_SETUPS}")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="serve config overrides for the raylane setups")
    parser.add_argument("--run-server", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_server:
        return run_server(args.run_server, args.model, args.port, args.overrides)
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="raylane-bench-serve-") as workdir:
        model, bodies = prepare(args.model, Path(workdir))
        results = {setup: measure(setup, model, bodies, levels, args.duration, args.overrides) for setup in args.setups.split(",")}
    verdict = goals(results)
    for name, value in verdict.items():
        print(f"[bench] goal {name}: {json.dumps(value)}", flush=True)
    path = write_result("serve", {"duration_s": args.duration, "concurrency": levels, "overrides": args.overrides,
                                  "results": results, "goals": verdict})
    print(f"[bench] wrote {path}", flush=True)


if __name__ == "__main__":
    with private_raylane_home():
        main()
