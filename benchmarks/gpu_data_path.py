"""Claim (issue 7): on a GPU, the input pipeline delivers at least 2x the samples/s the model step consumes.

Measured with torch, CuPy and pyarrow alone, because the GPU machine has no Ray. One run, one
machine, the same synthetic Criteo-like rows, and one training config (default
jobs/configs/train_small.yaml): its feature pipeline, its model, its batch size.
  step           the model's training step (bf16 autocast, Adam) on transformed rows already on the GPU,
                 at the config's batch size and at 65536 (train_gpu.yaml's per-worker batch)
  1 process      what one Ray Data task does, for every Parquet file in turn: read it (pyarrow), transform it
                 (`model_arrays`: out-of-fold target encoding, arrays back on the host, as a task hands
                 them to the object store) with the CPU or the GPU kernels, then what the training loop
                 does: cut batches (`cut_batches`) and copy each batch to the GPU
  resident       read + the GPU transform kept on the device (`transform_to_tensors`) + batches, one process
  in worker      what a training worker does under `data.transform: workers` (the default on GPU workers):
                 transform raw blocks, already read by Ray Data, on its GPU (`model_tensors`, no host
                 round trip) and cut batches; the files are read before the clock starts
  N processes    the 1-process path in N spawned processes over disjoint files at once: what N Ray Data
                 tasks on this node deliver, less Ray's object-store hop (not measured here)
A path feeds the GPU when its samples/s is at least 2x the step's. Rates are rows / wall seconds
of a whole pass, after a warm-up on a slice of the first file.

    python benchmarks/gpu_data_path.py [--config jobs/configs/train_gpu.yaml] [--rows 4000000] [--files 16] [--processes 4 12]
Writes benchmarks/results/gpu_data_path-<config>-<device>.json. Without a GPU it runs the CPU paths on
small data to check itself and writes nothing.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._gpu_step import training_step_samples_per_s  # noqa: E402
from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_device_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "jobs" / "configs" / "train_small.yaml"
FEED_GOAL = 2.0
LARGE_BATCH = 65536
WARMUP_ROWS = 4096
TENSOR_NAMES = ("continuous", "categorical", "label")


def load_training_config(config: Path, work: Path, rows: int, files: int):
    """The training config over `rows` freshly generated rows in `files` Parquet files."""
    from framework.config import load_config
    from framework.data.generate import GenerateRequest, write_synthetic_dataset

    write_synthetic_dataset(work / "train", GenerateRequest(rows=rows, seed=1, files_per_day=files))
    overrides = [f"data.train={work / 'train'}", f"data.valid={work / 'train'}", f"data.contract={work / 'train' / 'contract.yaml'}"]
    return load_config(config, overrides, kind="train")[1]


def columns_read(cfg, pipeline) -> list[str]:
    return list(dict.fromkeys(pipeline.input_columns() + [c for c in [cfg.features.id_column] if c] + [cfg.label]))


def fit_pipeline(cfg, paths: list[str], directory: Path):
    """Fitted on the first quarter of the files (fitting is not timed; the transform's cost does not depend on it)."""
    import pyarrow as pa

    from framework.features import FeaturePipeline

    pipeline = FeaturePipeline.from_yaml_dict(cfg.features.model_dump(mode="json"))
    columns = columns_read(cfg, pipeline)
    pipeline.fit(pa.concat_tables(pq.read_table(path, columns=columns) for path in paths[: max(1, len(paths) // 4)]))
    pipeline.save(directory)
    return pipeline


def host_batches_to_device(arrays: dict, batch: int, device: str) -> int:
    """The training loop's side: cut batches from one block and copy each batch to the device."""
    from framework.train.batches import cut_batches

    block = {name: torch.from_numpy(arrays[name]) for name in TENSOR_NAMES}
    rows = 0
    for piece in cut_batches([block], batch):
        on_device = [piece[name].to(device) for name in TENSOR_NAMES]
        rows += len(on_device[-1])
    return rows


def one_file(pipeline, label: str, path: str, columns: list[str], batch: int, device: str, rows: int | None = None,
             resident: bool = False) -> int:
    """Read, transform and batch one file onto `device`; the rows delivered."""
    from framework.train.batches import cut_batches
    from framework.train.data import model_arrays

    table = pq.read_table(path, columns=columns)
    if rows is not None:
        table = table.slice(0, rows)
    if resident:
        tensors = pipeline.transform_to_tensors(table, out_of_fold=True)
        return sum(len(piece["label"]) for piece in cut_batches([{n: tensors[n] for n in TENSOR_NAMES}], batch))
    return host_batches_to_device(model_arrays(pipeline, table, label, out_of_fold=True), batch, device)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def one_process_pass(pipeline, cfg, paths: list[str], kernels: str, device: str, resident: bool = False) -> dict:
    """Every file through the path in this process: rows/s of the whole pass, after a warm-up slice."""
    os.environ["RAYLANE_DEVICE"] = kernels
    columns, batch = columns_read(cfg, pipeline), cfg.optim.batch_size
    one_file(pipeline, cfg.label, paths[0], columns, batch, device, rows=WARMUP_ROWS, resident=resident)
    sync(device)
    started, rows = time.perf_counter(), 0
    for path in paths:
        rows += one_file(pipeline, cfg.label, path, columns, batch, device, resident=resident)
    sync(device)
    seconds = time.perf_counter() - started
    return {"kernels": kernels, "rows": rows, "seconds": seconds, "samples_per_s": rows / seconds}


def in_worker_pass(pipeline, cfg, paths: list[str], device: str) -> dict:
    """A training worker's side of `data.transform: workers`: raw blocks → `model_tensors` on its device → batches."""
    from framework.train.batches import cut_batches
    from framework.train.data import model_tensors

    os.environ["RAYLANE_DEVICE"] = "gpu" if device == "cuda" else "cpu"
    tables = [pq.read_table(path, columns=columns_read(cfg, pipeline)) for path in paths]
    model_tensors(pipeline, tables[0].slice(0, WARMUP_ROWS), cfg.label, True, device)
    sync(device)
    started = time.perf_counter()
    blocks = (model_tensors(pipeline, table, cfg.label, True, device) for table in tables)
    rows = sum(len(piece["label"]) for piece in cut_batches(blocks, cfg.optim.batch_size))
    sync(device)
    seconds = time.perf_counter() - started
    return {"kernels": os.environ["RAYLANE_DEVICE"], "rows": rows, "seconds": seconds, "samples_per_s": rows / seconds}


def _worker(pipeline_dir: str, label: str, columns: list[str], paths: list[str], batch: int, kernels: str, device: str,
            ready, results) -> None:
    """One spawned process of the N-process path: warm up, wait for the others, then run its files."""
    os.environ["RAYLANE_DEVICE"] = kernels
    torch.set_num_threads(1)
    from framework.features import FeaturePipeline

    pipeline = FeaturePipeline.load(pipeline_dir)
    one_file(pipeline, label, paths[0], columns, batch, device, rows=WARMUP_ROWS)
    sync(device)
    ready.wait()
    rows = sum(one_file(pipeline, label, path, columns, batch, device) for path in paths)
    sync(device)
    results.put(rows)


def processes_pass(pipeline_dir: Path, cfg, columns: list[str], paths: list[str], processes: int, kernels: str, device: str) -> dict:
    """The 1-process path in `processes` spawned processes over disjoint files; wall from the common start."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(processes + 1), context.Queue()
    shares = [paths[index::processes] for index in range(processes)]
    workers = [context.Process(target=_worker, args=(str(pipeline_dir), cfg.label, columns, share, cfg.optim.batch_size, kernels, device, ready, results))
               for share in shares if share]
    for worker in workers:
        worker.start()
    ready.wait(timeout=300)
    started = time.perf_counter()
    rows = sum(results.get(timeout=600) for _ in workers)
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=60)
    return {"kernels": kernels, "processes": len(workers), "rows": rows, "seconds": seconds, "samples_per_s": rows / seconds}


def model_steps(cfg, pipeline, paths: list[str]) -> dict:
    """The model's step on transformed rows of the first file, at the config's batch size and at LARGE_BATCH."""
    from framework.models import build_model, validate_model_config
    from framework.train.data import model_arrays

    os.environ["RAYLANE_DEVICE"] = "gpu"
    rows = pq.read_table(paths[0], columns=columns_read(cfg, pipeline))
    arrays = model_arrays(pipeline, rows, cfg.label, out_of_fold=True)
    tensors = {name: torch.from_numpy(arrays[name]).cuda() for name in TENSOR_NAMES}
    schema, rates = pipeline.output_schema, {}
    for batch in dict.fromkeys([cfg.optim.batch_size, LARGE_BATCH]):
        model = build_model(validate_model_config(cfg.model), len(schema.continuous),
                            list(schema.categorical.values()), seed=0).cuda()
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
        rates[batch] = training_step_samples_per_s(model, optimizer, tensors, batch)
        print(f"  step, batch {batch:6d}: {rates[batch]:>12,.0f} samples/s", flush=True)
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--processes", type=int, nargs="*", default=[4, 12])
    parser.add_argument("--config", type=Path, default=CONFIG, help="a training config (default: train_small.yaml)")
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    if not gpu:
        args.rows, args.files, args.processes = min(args.rows, 40_000), min(args.files, 4), [2]
        print(f"no CUDA device: a CPU-only check on {args.rows:,} rows; nothing is written")
    device = "cuda" if gpu else "cpu"
    work = Path(tempfile.mkdtemp(prefix="raylane-bench-gpu-data-"))
    try:
        cfg = load_training_config(args.config, work, args.rows, args.files)
        paths = sorted(str(p) for p in (work / "train").rglob("*.parquet"))
        pipeline = fit_pipeline(cfg, paths, work / "pipeline")
        columns = columns_read(cfg, pipeline)
        print(f"{args.rows:,} rows in {len(paths)} files; batch {cfg.optim.batch_size}; {os.cpu_count()} CPU cores", flush=True)
        steps = model_steps(cfg, pipeline, paths) if gpu else {}
        paths_measured = {}
        for kernels in (["cpu", "gpu"] if gpu else ["cpu"]):
            paths_measured[f"1_process_{kernels}_kernels"] = one_process_pass(pipeline, cfg, paths, kernels, device)
        if gpu:
            paths_measured["1_process_gpu_kernels_resident"] = one_process_pass(pipeline, cfg, paths, "gpu", device, resident=True)
        paths_measured[f"in_worker_{'gpu' if gpu else 'cpu'}_kernels"] = in_worker_pass(pipeline, cfg, paths, device)
        for processes in args.processes:
            for kernels in (["cpu", "gpu"] if gpu else ["cpu"]):
                paths_measured[f"{processes}_processes_{kernels}_kernels"] = processes_pass(
                    work / "pipeline", cfg, columns, paths, processes, kernels, device)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, result in paths_measured.items():
        ratios = {batch: result["samples_per_s"] / rate for batch, rate in steps.items()}
        result["feed_ratio_by_step_batch"] = ratios
        shown = "  ".join(f"{r:.2f}x step@{b}" for b, r in ratios.items())
        print(f"  {name:36s} {result['samples_per_s']:>12,.0f} samples/s  {shown}", flush=True)
    if not gpu:
        return 0
    needed = {batch: math.ceil(FEED_GOAL * rate / paths_measured["1_process_gpu_kernels"]["samples_per_s"]) for batch, rate in steps.items()}
    name = torch.cuda.get_device_name(0)
    report = {
        "device": name, "torch": torch.__version__, "rows": args.rows, "files": len(paths),
        "config": str(args.config.resolve().relative_to(REPO)), "model": cfg.model, "batch_size": cfg.optim.batch_size,
        "feed_goal": FEED_GOAL, "step_samples_per_s_by_batch": steps, "paths": paths_measured,
        "gpu_kernel_processes_for_the_goal_derived": needed,
        "not_measured": "Ray's object-store hop between the Ray Data tasks and the train worker (no Ray on this machine)",
    }
    print(f"wrote {write_device_result(f'gpu_data_path-{args.config.stem}', name, report)}")
    return 0


if __name__ == "__main__":
    with private_raylane_home():
        sys.exit(main())
