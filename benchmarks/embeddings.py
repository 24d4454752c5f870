"""Embedding placements (`scaling.embeddings`): replicated against TorchRec sharding, in one run.

Two workloads, each with every placement on 1 and 2 workers (spawned gloo processes, one thread each,
raylane's own placement and training step on ready tensors: framework.train.placed_model + train_epoch):
  small   jobs/configs/train_small.yaml's model (DLRM, 27 tables sized by its pipeline over synthetic rows)
  large   the anchor's shape: DLRM with 26 tables of --large-rows x 32 (random ids), batch 2048 per worker
Baselines in the same run, on the same batches:
  plain fused loop   one process, one thread: FBGEMM's table-batched kernel with the same fused optimizer
                     used directly (no TorchRec, no raylane), Adam on the dense layers: the per-worker baseline
  plain torch DDP    the replicated model (nn.Embedding tables, Adam on everything) under torch DDP in 2
                     processes, without Ray: on 2 cores it shows the ceiling of data parallelism
Per worker: samples/s, peak RSS, bytes sent to the other worker per step (counted from the collectives
called), table weight and optimizer-state bytes (counted from the tensors held).
Capacity: with a fixed memory budget per worker (scaling.memory_per_worker), the largest total table rows
each placement accepts on 2 workers; then a model whose tables take 1.5x the budget trains row_wise on 2
workers, and replicated refuses it with its error.
Through Ray: train_small.yaml end to end (run_training, 2 epochs) replicated against auto and table_wise,
for AUC at the same epochs and for the rate with Ray's data path.
TorchRec alone: the shared anchor script (../shared/anchors/torchrec_vs_ddp.py, no Ray, no raylane) on the
large workload's shape, when it is there, for the same session's numbers.

    python benchmarks/embeddings.py [--rows 400000] [--large-rows 300000] [--anchor ../shared/anchors/torchrec_vs_ddp.py]
Writes benchmarks/results/embeddings.json.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._embedding_workers import LOOPS, plain_fused_loop, run_placement, synthetic_batches, tensor_batches  # noqa: E402
from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_result  # noqa: E402
from benchmarks._torch_ddp import plain_ddp_loop  # noqa: E402
from benchmarks.train import make_data, model_recipe, model_from_recipe, prepare_tensors, train_config  # noqa: E402

EMBEDDING_OPTIMIZER = {"optimizer": "rowwise_adagrad", "lr": 0.02, "eps": 1e-8, "weight_decay": 0.0}
GOALS = {"per_worker_vs_plain_fused": 0.9, "bytes_vs_replicated": 0.1, "table_memory_vs_replicated": 0.55, "auc_drop": 0.005}


def small_spec(cfg, pipeline) -> dict:
    schema = pipeline.output_schema
    return {"model": cfg.model, "num_continuous": len(schema.continuous), "cardinalities": list(schema.categorical.values()),
            "lr": cfg.optim.lr, "embeddings": {**EMBEDDING_OPTIMIZER, **cfg.optim.embeddings.model_dump()}}


def large_spec(rows: int) -> dict:
    return {"model": {"name": "dlrm", "embedding_dim": 32, "bottom_mlp": [64, 32], "top_mlp": [64, 32]},
            "num_continuous": 13, "cardinalities": [rows] * 26, "lr": 1e-3, "embeddings": EMBEDDING_OPTIMIZER}


def placements(spec: dict, batch: int, steps: int, warmup: int, tensors: dict | None, log) -> dict:
    out = {}
    for placement in LOOPS:
        for workers in (1, 2):
            started = time.perf_counter()
            job = {"spec": spec, "placement": placement, "batch": batch, "steps": steps, "warmup": warmup, "tensors": tensors}
            out[f"{placement}_{workers}w"] = result = run_placement(job, workers)
            log(f"  {placement:10s} {workers} worker(s): {result.get('samples_per_s_per_worker', 0):>10,.0f} samples/s/worker, "
                f"sent {result.get('sent_bytes_per_step_per_worker_total', 0) / 2**20:8.2f} MiB/step, tables "
                f"{result.get('table_bytes_per_worker', 0) / 2**20:8.1f} MiB/worker ({time.perf_counter() - started:.0f} s)")
    return out


def plain_ddp(spec: dict, tensors: dict | None, batch: int, steps: int) -> dict:
    """torch DDP over gloo, 2 processes, the replicated model; on ready tensors (small) or random rows (large)."""
    if tensors is None:
        rows = synthetic_batches(spec, 0, steps, batch * 2)
        tensors = {name: torch.cat([b[name] for b in rows]) for name in rows[0]}
    recipe = {"model": spec["model"], "num_continuous": spec["num_continuous"], "cardinalities": spec["cardinalities"],
              "seed": 0, "lr": spec["lr"], "weight_decay": 0.0}
    limited = {name: value[: steps * batch * 2] for name, value in tensors.items()}
    return plain_ddp_loop(functools.partial(model_from_recipe, recipe), limited, epochs=2, batch=batch)


def workload(name: str, spec: dict, batch: int, steps: int, warmup: int, tensors: dict | None, log) -> dict:
    log(f"{name}: {len(spec['cardinalities'])} tables, {sum(spec['cardinalities']):,} rows in all, dim "
        f"{spec['model'].get('embedding_dim', 16)}, batch {batch} per worker")
    batches = tensor_batches(tensors, 0, 1, warmup + steps, batch) if tensors is not None else synthetic_batches(spec, 0, warmup + steps, batch)
    plain = plain_fused_loop(spec, batches, warmup)
    log(f"  plain fused loop (1 process, FBGEMM kernel): {plain['samples_per_s']:,.0f} samples/s")
    runs = placements(spec, batch, steps, warmup, tensors, log)
    ddp = plain_ddp(spec, tensors, batch, min(steps, 40))
    log(f"  plain torch DDP (2 processes, no Ray): {ddp['samples_per_s_per_worker']:,.0f} samples/s/worker")
    return {"spec": {**spec, "table_rows": sum(spec["cardinalities"])}, "batch_per_worker": batch, "steps": steps,
            "warmup_steps": warmup, "plain_fused_loop": plain, "plain_torch_ddp_2_processes": ddp, "placements": runs,
            "summary": summarise(plain, ddp, runs)}


def against_anchor(large: dict, anchored: dict | None) -> dict | None:
    """raylane's 2-worker rate on the large workload against TorchRec alone (the anchor's global samples/s / 2)."""
    import re

    if not anchored or not anchored["output"]:
        return None
    alone = float(re.search(r"([\d,]+) samples/s", anchored["output"][-1]).group(1).replace(",", "")) / 2
    return {placement: large["placements"][f"{placement}_2w"]["samples_per_s_per_worker"] / alone
            for placement in ("table_wise", "auto") if "refused" not in large["placements"][f"{placement}_2w"]}


def summarise(plain: dict, ddp: dict, runs: dict) -> dict:
    replicated = runs["replicated_2w"]
    summary = {}
    for placement in ("table_wise", "row_wise", "auto"):
        run = runs[f"{placement}_2w"]
        if "refused" in run or "refused" in replicated:
            continue
        summary[placement] = {
            "per_worker_vs_plain_fused_loop": run["samples_per_s_per_worker"] / plain["samples_per_s"],
            "per_worker_vs_plain_torch_ddp": run["samples_per_s_per_worker"] / ddp["samples_per_s_per_worker"],
            "sent_bytes_vs_replicated": run["sent_bytes_per_step_per_worker_total"] / replicated["sent_bytes_per_step_per_worker_total"],
            "table_memory_vs_replicated": run["table_bytes_per_worker"] / replicated["table_bytes_per_worker"],
            "table_weights_vs_replicated": run["table_weight_bytes_per_worker"] / replicated["table_weight_bytes_per_worker"],
            "per_worker_vs_replicated": run["samples_per_s_per_worker"] / replicated["samples_per_s_per_worker"],
        }
    summary["replicated_per_worker_vs_plain_fused_loop"] = replicated["samples_per_s_per_worker"] / plain["samples_per_s"]
    return summary


def capacity(budget: int, log) -> dict:
    """Largest total rows (26 tables x 32) per placement within `budget` per worker on 2 workers; then a
    model of 1.5x the budget trains row_wise and is refused replicated."""
    from framework.models import TableSpec
    from framework.train.embeddings import EmbeddingsDoNotFit, check_fits

    def fits(rows: int, placement: str) -> bool:
        specs = [TableSpec(f"t{j}", rows, 32) for j in range(26)]
        try:
            check_fits(specs, placement, workers=2, budget=budget, embedding_optimizer="rowwise_adagrad", dense_optimizer="adam")
            return True
        except EmbeddingsDoNotFit:
            return False

    largest = {}
    for placement in ("replicated", "table_wise", "row_wise", "column_wise"):
        low, high = 0, 1 << 26
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(middle, placement) else (low, middle - 1)
        largest[placement] = {"rows_per_table": low, "total_rows": 26 * low, "weight_gib": 26 * low * 32 * 4 / 2**30}
    rows = int(1.5 * budget / (26 * 32 * 4))
    spec = {**large_spec(rows), "model": {"name": "dlrm", "embedding_dim": 32, "bottom_mlp": [64, 32], "top_mlp": [64, 32]}}
    trained = {}
    for placement in ("row_wise", "replicated"):
        job = {"spec": spec, "placement": placement, "batch": 2048, "steps": 10, "warmup": 2, "memory_per_worker": budget}
        trained[placement] = run_placement(job, 2)
        log(f"  {placement}: {trained[placement].get('refused', 'trained, %.0f samples/s/worker' % trained[placement].get('samples_per_s_per_worker', 0))[:300]}")
    return {"budget_bytes_per_worker": budget, "largest_model_within_budget_2_workers": largest,
            "model_of_1_5x_budget": {"rows_per_table": rows, "weight_gib": 26 * rows * 32 * 4 / 2**30, **trained}}


def through_ray(data: list[str], work: Path, log) -> dict:
    """train_small.yaml end to end on Ray Train, 2 workers, 2 epochs: replicated against auto (which
    replicates its small tables) and table_wise (sharded, with the fused row-wise Adagrad)."""
    from framework.train import run_training

    out = {}
    for placement in ("replicated", "auto", "table_wise"):
        cfg = train_config(data, work / "runs", f"emb-{placement}", 2, 2, f"scaling.embeddings={placement}", "registry.name=null")
        result = run_training(cfg)
        history = result.metrics
        out[placement] = {"auc_last_epoch": history["auc"], "best": history["best"], "samples_per_s_last_epoch": history["samples_per_s"],
                          "samples_per_s_per_worker": history["samples_per_s"] / 2}
        log(f"  through Ray, {placement}: auc {history['auc']:.4f} (best {history['best']['auc']:.4f} at epoch "
            f"{history['best']['epoch']}), {history['samples_per_s'] / 2:,.0f} samples/s/worker")
    for placement in ("auto", "table_wise"):
        out[f"best_auc_{placement}_minus_replicated"] = out[placement]["best"]["auc"] - out["replicated"]["best"]["auc"]
        out[f"last_epoch_auc_{placement}_minus_replicated"] = out[placement]["auc_last_epoch"] - out["replicated"]["auc_last_epoch"]
    return out


def anchor(path: str | None, rows: int, log) -> dict | None:
    """The shared anchor script (TorchRec alone, no Ray), run here for the same session's numbers."""
    if not path or not os.path.exists(path):
        return None
    done = subprocess.run([sys.executable, path, "torchrec"], env={**os.environ, "ROWS": str(rows)},
                          capture_output=True, text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if "samples/s" in line]
    log(f"  anchor: {lines[-1] if lines else done.stderr[-300:]}")
    return {"script": path, "rows": rows, "output": lines}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=400_000, help="synthetic rows for train_small's pipeline")
    parser.add_argument("--large-rows", type=int, default=300_000, help="rows per table of the large workload")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--large-steps", type=int, default=12)
    parser.add_argument("--budget", default="1GiB", help="memory per worker for the capacity point")
    parser.add_argument("--anchor", default=str(Path(__file__).resolve().parents[2] / "shared" / "anchors" / "torchrec_vs_ddp.py"))
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    from framework.train.config import parse_bytes

    log = functools.partial(print, flush=True)
    load_before = os.getloadavg()[0]
    log(f"load average {load_before:.1f}; {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="raylane-bench-embeddings-"))
    try:
        data = make_data(work, args.rows, 50_000)
        cfg = train_config(data, work / "runs", "tensors", 1, 1)
        tensors, pipeline, _ = prepare_tensors(cfg, work / "pipeline")
        small = workload("small (train_small.yaml)", small_spec(cfg, pipeline), cfg.optim.batch_size, args.steps, 5, tensors, log)
        large = workload("large (26 x %d x 32)" % args.large_rows, large_spec(args.large_rows), 2048, args.large_steps, 2, None, log)
        log("capacity:")
        room = capacity(parse_bytes(args.budget), log)
        anchored = anchor(args.anchor, args.large_rows, log)
        ray = None
        if not args.skip_ray:
            log("through Ray:")
            ray = through_ray(data, work, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    payload = {"rows": args.rows, "goals": GOALS, "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
               "small": small, "large": large, "capacity": room, "anchor_torchrec_alone": anchored,
               "large_2_workers_per_worker_vs_torchrec_alone": against_anchor(large, anchored), "through_ray": ray,
               "notes": NOTES}
    log(f"wrote {write_result('embeddings', payload)}")
    return 0


NOTES = [
    "Placements run raylane's worker code (place_model + train_epoch) in spawned gloo processes, one thread each, on ready "
    "tensors: the rates are the training step without Ray's data path (benchmarks/results/train.json measures that).",
    "sent bytes: what one worker sends to the other per step, counted at each collective call (DDP's all-reduce through a comm "
    "hook at 2(N-1)/N of the bucket, TorchRec's all-to-all by its splits, reduce-scatter at (N-1)/N of the input).",
    "table bytes: weights plus optimizer state held per worker, from the tensors; replicated counts Adam's two moments and the "
    "dense gradient, sharded counts the fused optimizer's state (one float per row for row-wise Adagrad).",
    "FBGEMM's CPU kernels have no Adam: the sharded runs use row-wise Adagrad (optim.embeddings default), replicated uses Adam "
    "(optim.optimizer), as raylane trains them.",
]


if __name__ == "__main__":
    with private_raylane_home():
        sys.exit(main())
