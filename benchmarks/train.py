"""Training throughput: raylane (Ray Train, 1 and 2 workers) against a plain single-process torch loop.

One run, same machine, same synthetic rows, same model, batch size and optimizer
(jobs/configs/train_small.yaml: dlrm, batch 1024 per worker, Adam):
  plain      fit the feature pipeline in this process, transform every row to arrays once (out-of-fold
             target encoding, as training does), then a torch loop over slices of those tensors
  raylane    run_training with scaling.num_workers 1, then 2 (resources_per_worker {CPU: 0.5}): Ray Data
             reads Parquet and transforms each batch while Ray Train trains, so its samples/s include
             the data path
  plain DDP  torch DistributedDataParallel over gloo in 2 spawned processes (1 thread each) on slices of the
             plain loop's tensors: data parallelism without Ray, so raylane's 2-worker rate against it is
             Ray Train's own overhead
  data path  the same Ray Data read + transform + batching (fixed_size_batches), with no model
Every rate is steady state: the last epoch (or pass); the first is the warm-up and is reported apart.
With a GPU (torch.cuda.is_available()) the model's training step is also timed there with torch alone,
on tensors already on the device, and set against the data path.

    python benchmarks/train.py [--rows 400000] [--epochs 2]
Writes benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._gpu_step import training_step_samples_per_s  # noqa: E402
from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_result  # noqa: E402
from benchmarks._torch_ddp import plain_ddp_loop, plain_epoch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "jobs" / "configs" / "train_small.yaml"
PER_WORKER_GOAL = 0.9  # Ray Train samples/s per worker against the plain loop
GPU_FEED_GOAL = 2.0  # input pipeline samples/s against what the model step consumes on a GPU
DTYPES = {"continuous": torch.float32, "categorical": torch.int64, "label": torch.float32}
BATCH_DTYPES = {**DTYPES, "p_true": torch.float64}  # as raylane's loop asks for them (p_true: evaluation only)


PROGRESS = re.compile(r"\[train\] epoch (\d+)/(\d+) step (\d+) loss \S+ ([\d,]+) samples/s/worker")


class ProgressLines(io.TextIOBase):
    """Tees stdout and keeps rank 0's progress lines (`... step S ... R samples/s/worker`, the rate
    since the epoch began), which Ray forwards from the worker to this process's stdout."""

    def __init__(self, sink):
        self.sink, self.lines = sink, []

    def write(self, text: str) -> int:
        self.sink.write(text)
        self.lines.extend(tuple(int(g.replace(",", "")) for g in m.groups()) for m in PROGRESS.finditer(text))
        return len(text)

    def flush(self) -> None:
        self.sink.flush()


def within_last_epoch(lines: list[tuple], run: dict, rows: int, batch: int) -> dict | None:
    """Split the last epoch at rank 0's first progress line: the start-up before it, the rate after it,
    and the rate between its last two progress lines. Every epoch has the same steps (same split)."""
    last = list(dict.fromkeys((step, rate) for epoch, epochs, step, rate in lines if epoch == epochs))  # Ray may echo a line twice
    if not last:
        return None
    start = run["final_step"] - run["final_step"] // run["epochs"]
    times = [((step - start) * batch, (step - start) * batch / rate) for step, rate in last]
    epoch_s, (samples, seconds) = rows / run["samples_per_s"], times[0]
    result = {"first_progress_step_in_epoch": last[0][0] - start, "seconds_to_first_progress_line": seconds,
              "epoch_s": epoch_s, "samples_per_s_after_first_progress_line": (rows - run["workers"] * samples) / (epoch_s - seconds)}
    if len(times) > 1:
        (s1, t1), (s2, t2) = times[-2:]
        result["samples_per_s_between_last_two_progress_lines"] = run["workers"] * (s2 - s1) / (t2 - t1)
    return result


def make_data(work: Path, rows: int, valid_rows: int) -> list[str]:
    """Training and validation Parquet with their contract; the data overrides for the config."""
    from framework.data.generate import GenerateRequest, write_synthetic_dataset

    write_synthetic_dataset(work / "train", GenerateRequest(rows=rows, seed=1, files_per_day=4))
    write_synthetic_dataset(work / "valid", GenerateRequest(rows=valid_rows, seed=2, files_per_day=2))
    return [f"data.train={work / 'train'}", f"data.valid={work / 'valid'}", f"data.contract={work / 'train' / 'contract.yaml'}"]


def train_config(data: list[str], storage: Path, name: str, workers: int, epochs: int, *extra: str):
    from framework.config import load_config

    overrides = data + [f"run.storage_path={storage}", f"run.name={name}", f"scaling.num_workers={workers}", f"optim.epochs={epochs}", *extra]
    return load_config(CONFIG, overrides, kind="train")[1]


def input_columns(cfg, pipeline) -> list[str]:
    """The columns training reads, as the driver chooses them."""
    return pipeline.input_columns() + [c for c in [cfg.features.id_column] if c]


def prepare_tensors(cfg, pipeline_dir: Path) -> tuple[dict, object, dict]:
    """Fit on the whole training table and transform it once: (tensors, pipeline, seconds)."""
    from framework.data import read_table
    from framework.features import FeaturePipeline
    from framework.train.data import model_arrays

    pipeline = FeaturePipeline.from_yaml_dict(cfg.features.model_dump(mode="json"))
    started = time.perf_counter()
    table = read_table(cfg.data.train, columns=list(dict.fromkeys(input_columns(cfg, pipeline) + [cfg.label])))
    read_s = time.perf_counter() - started
    pipeline.fit(table)
    fit_s = time.perf_counter() - started - read_s
    arrays = model_arrays(pipeline, table, cfg.label, out_of_fold=True)
    transform_s = time.perf_counter() - started - read_s - fit_s
    pipeline.save(pipeline_dir)
    tensors = {name: torch.from_numpy(arrays[name]) for name in DTYPES}
    return tensors, pipeline, {"read_s": read_s, "fit_s": fit_s, "transform_s": transform_s}


def model_recipe(cfg, pipeline) -> dict:
    """What building the model and optimizer needs, as plain values (it crosses to spawned processes)."""
    schema = pipeline.output_schema
    return {"model": cfg.model, "num_continuous": len(schema.continuous), "cardinalities": list(schema.categorical.values()),
            "seed": cfg.run.seed, "lr": cfg.optim.lr, "weight_decay": cfg.optim.weight_decay}


def model_from_recipe(recipe: dict, device: str = "cpu"):
    from framework.models import build_model, validate_model_config

    model = build_model(validate_model_config(recipe["model"]), recipe["num_continuous"], recipe["cardinalities"], seed=recipe["seed"])
    model = model.to(device)
    return model, torch.optim.Adam(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])


def build_training_model(cfg, pipeline, device: str = "cpu"):
    return model_from_recipe(model_recipe(cfg, pipeline), device)


def plain_loop(cfg, pipeline, tensors: dict, epochs: int, threads: int) -> dict:
    """What one would write without raylane: a torch loop over slices of ready tensors."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model, optimizer = build_training_model(cfg, pipeline)
        rows = len(tensors["label"])
        rates = [plain_epoch(model, optimizer, tensors, 0, rows, cfg.optim.batch_size) for _ in range(epochs)]
    finally:
        torch.set_num_threads(previous)
    return {"threads": threads, "samples_per_s_by_epoch": rates, "samples_per_s": rates[-1]}


def raylane_run(cfg) -> dict:
    """One run_training; its last epoch's global samples/s (data path included) and its wall time."""
    from framework.train import run_training

    started = time.perf_counter()
    result = run_training(cfg)
    wall_s = time.perf_counter() - started
    workers = cfg.scaling.num_workers
    rate = float(result.metrics["samples_per_s"])
    return {"workers": workers, "epochs": cfg.optim.epochs, "samples_per_s": rate,
            "samples_per_s_per_worker": rate / workers, "wall_s_incl_fit_and_validation": wall_s,
            "last_epoch": int(result.metrics["epoch"]), "final_step": int(result.metrics["step"]), "auc": float(result.metrics["auc"])}


def data_path_alone(cfg, pipeline, pipeline_dir: Path, passes: int) -> dict:
    """Ray Data read + transform + the training loop's batching of the training set, no model."""
    from framework.train.batches import fixed_size_batches
    from framework.train.data import build_dataset

    dataset = build_dataset(cfg.data.train, pipeline_dir, cfg.label, True, input_columns(cfg, pipeline))
    rates = []
    for _ in range(passes):
        started, rows = time.perf_counter(), 0
        for batch in fixed_size_batches(dataset, cfg.optim.batch_size, BATCH_DTYPES):
            rows += int(batch["label"].shape[0])
        rates.append(rows / (time.perf_counter() - started))
    return {"passes": passes, "samples_per_s_by_pass": rates, "samples_per_s": rates[-1]}


def gpu_step(cfg, pipeline, tensors: dict, warmup_steps: int = 20, steps: int = 200) -> dict | None:
    """The model's training step on the GPU with torch alone (tensors already on the device)."""
    if not torch.cuda.is_available():
        return None
    model, optimizer = build_training_model(cfg, pipeline, "cuda")
    batch = cfg.optim.batch_size
    on_device = {name: value[: batch * 64].cuda() for name, value in tensors.items()}
    rate = training_step_samples_per_s(model, optimizer, on_device, batch, warmup_steps, steps)
    return {"device": torch.cuda.get_device_name(0), "warmup_steps": warmup_steps, "steps": steps, "samples_per_s": rate}


def summarise(plain: dict, plain_one_thread: dict, plain_ddp: dict, runs: dict, data_path: dict, gpu: dict | None) -> dict:
    one, two = runs[1]["samples_per_s"], runs[2]["samples_per_s"]
    summary = {
        "per_worker_ratio_2_workers_vs_plain": two / 2 / plain["samples_per_s"],
        "per_worker_ratio_2_workers_vs_plain_1_thread": two / 2 / plain_one_thread["samples_per_s"],
        "ratio_2_workers_vs_plain_ddp": two / plain_ddp["samples_per_s"],
        "plain_ddp_per_worker_vs_plain_1_thread": plain_ddp["samples_per_s_per_worker"] / plain_one_thread["samples_per_s"],
        "ratio_1_worker_vs_plain": one / plain["samples_per_s"],
        "ratio_1_worker_vs_plain_1_thread": one / plain_one_thread["samples_per_s"],
        "scaling_efficiency_2_workers": two / (2 * one),
        "data_path_vs_model_step_cpu": data_path["samples_per_s"] / plain["samples_per_s"],
    }
    split = runs[2]["last_epoch_split"]
    if split:  # diagnostic only: the goal is judged on the whole epoch, start-up included
        in_epoch = split["samples_per_s_after_first_progress_line"] / 2
        summary["in_epoch_per_worker_ratio_2_workers_vs_plain"] = in_epoch / plain["samples_per_s"]
        summary["in_epoch_per_worker_ratio_2_workers_vs_plain_1_thread"] = in_epoch / plain_one_thread["samples_per_s"]
    ratio = summary["per_worker_ratio_2_workers_vs_plain"]
    goals = {"ray_train_per_worker_at_least_0.9x_plain": {"value": ratio, "goal": PER_WORKER_GOAL, "met": ratio >= PER_WORKER_GOAL}}
    if gpu is None:
        goals["gpu_input_pipeline_at_least_2x_model_step"] = {"met": None, "why": "no GPU on this machine: not measured"}
    else:
        feed = data_path["samples_per_s"] / gpu["samples_per_s"]
        summary["data_path_vs_model_step_gpu"] = feed
        goals["gpu_input_pipeline_at_least_2x_model_step"] = {"value": feed, "goal": GPU_FEED_GOAL, "met": feed >= GPU_FEED_GOAL}
    return {"summary": summary, "goals": goals}


def print_table(plain: dict, plain_one_thread: dict, plain_ddp: dict, runs: dict, data_path: dict, gpu: dict | None,
                report: dict) -> None:
    rows = [
        (f"plain torch loop ({plain['threads']} threads)", plain["samples_per_s"], plain["samples_per_s_by_epoch"]),
        ("plain torch loop (1 thread)", plain_one_thread["samples_per_s"], plain_one_thread["samples_per_s_by_epoch"]),
        ("plain torch DDP, 2 procs (global)", plain_ddp["samples_per_s"], plain_ddp["samples_per_s_by_epoch"]),
        ("raylane, 1 worker (global)", runs[1]["samples_per_s"], None),
        ("raylane, 2 workers (global)", runs[2]["samples_per_s"], None),
        ("raylane, 2 workers (per worker)", runs[2]["samples_per_s_per_worker"], None),
        ("data path alone (Ray Data)", data_path["samples_per_s"], data_path["samples_per_s_by_pass"]),
    ]
    if gpu is not None:
        rows.append((f"model step on {gpu['device']}", gpu["samples_per_s"], None))
    print(f"{'':<34}{'samples/s':>12}   all epochs/passes")
    for label, rate, every in rows:
        print(f"{label:<34}{rate:>12,.0f}   {'  '.join(f'{r:,.0f}' for r in every) if every else ''}")
    for key, value in report["summary"].items():
        print(f"{key:>48}: {value:.2f}")
    for key, goal in report["goals"].items():
        state = {True: "MET", False: "NOT MET", None: "not measured"}[goal["met"]]
        print(f"goal {key}: {state}" + (f" ({goal['value']:.2f} against {goal['goal']})" if "value" in goal else f" ({goal['why']})"))
    for workers, run in runs.items():
        split = run["last_epoch_split"]
        if split:
            print(f"raylane, {workers} worker(s), last epoch ({split['epoch_s']:.1f} s): first progress line after "
                  f"{split['first_progress_step_in_epoch']} steps at {split['seconds_to_first_progress_line']:.1f} s; "
                  f"{split['samples_per_s_after_first_progress_line']:,.0f} samples/s (global) after it"
                  + (f", {split['samples_per_s_between_last_two_progress_lines']:,.0f} between the last two lines"
                     if "samples_per_s_between_last_two_progress_lines" in split else ""))
    print(f"one gloo all-reduce of the {plain_ddp['gradient_floats']:,} gradient floats: {plain_ddp['all_reduce_ms']:.1f} ms")
    print(f"wall time incl. pipeline fit and validation: 1 worker {runs[1]['wall_s_incl_fit_and_validation']:.1f} s, "
          f"2 workers {runs[2]['wall_s_incl_fit_and_validation']:.1f} s")


NOTES = [
    "Steady state is the last epoch (pass); the first is the warm-up (Ray worker start, Ray Data task start, allocator).",
    "raylane samples_per_s is the loop's own metric: samples trained by all workers / the epoch's training seconds; "
    "it includes the data path (Ray Data read + feature transform + batching) but not validation.",
    "The plain loop trains on tensors transformed once up front, so its rate is the model step alone; its read, fit "
    "and transform seconds are reported apart.",
    "Ray gives a worker with CPU 0.5 one intra-op thread (OMP_NUM_THREADS=1); the plain loop is timed with torch's "
    "default threads and with 1 thread, and the ratios are given against both.",
    "raylane.*.last_epoch_split splits the last epoch at rank 0's first progress line (printed every 50 steps "
    "steps with the rate since the epoch began): the seconds before it are the epoch's start-up (Ray Data "
    "execution starting again for the epoch), the rate after it is the in-epoch rate. Derived from the "
    "printed rates, assuming every epoch has the same number of steps. Ray Data keeps producing batches during "
    "that start-up, so the rate after it may partly consume batches prepared ahead: it bounds the model step "
    "under Ray Train from above rather than measuring a sustained data path.",
    "raylane.* runs use data.cache auto, which here transforms the data once into the object store before the "
    "first epoch; raylane_2_workers_streamed is the same 2-worker run with data.cache false (Parquet "
    "read and transformed again every epoch, the path for data larger than the object store).",
    "plain_ddp is torch DDP over gloo without Ray (2 spawned processes, 1 thread each, contiguous halves of the "
    "plain loop's tensors, the same per-worker batch): ratio_2_workers_vs_plain_ddp is what Ray Train and the "
    "Ray Data feed add on top of data parallelism itself, plain_ddp_per_worker_vs_plain_1_thread what data "
    "parallelism itself costs here (a synchronous gradient all-reduce every step; all_reduce_ms times one).",
    "On 2 cores, 2 workers share both cores with the Ray Data read/transform tasks and with the driver, and DDP "
    "all-reduces dense embedding gradients over gloo every step, so scaling cannot be linear here.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--valid-rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2, help="per run; the last one is the steady state (default 2)")
    args = parser.parse_args()
    os.environ["RAYLANE_DEVICE"] = "cpu"
    load_before = os.getloadavg()[0]
    print(f"{args.rows:,} training rows, {args.epochs} epochs; load average {load_before:.1f}")
    work = Path(tempfile.mkdtemp(prefix="raylane-bench-train-"))
    try:
        data = make_data(work, args.rows, args.valid_rows)
        cfgs = {workers: train_config(data, work / "runs", f"bench-{workers}w", workers, args.epochs) for workers in (1, 2)}
        tensors, pipeline, prepare = prepare_tensors(cfgs[1], work / "pipeline")
        plain = plain_loop(cfgs[1], pipeline, tensors, args.epochs, torch.get_num_threads())
        plain_one_thread = plain_loop(cfgs[1], pipeline, tensors, args.epochs, 1)
        plain_ddp = plain_ddp_loop(functools.partial(model_from_recipe, model_recipe(cfgs[2], pipeline)), tensors,
                                   args.epochs, cfgs[2].optim.batch_size)
        gpu = gpu_step(cfgs[1], pipeline, tensors)
        from framework.ray_session import ensure_ray

        started = time.perf_counter()
        ray = ensure_ray()
        ray_start_s = time.perf_counter() - started
        runs = {}
        for workers, cfg in cfgs.items():
            sys.stdout = capture = ProgressLines(sys.__stdout__)
            try:
                runs[workers] = raylane_run(cfg)
            finally:
                sys.stdout = sys.__stdout__
            runs[workers]["progress_lines"] = capture.lines
            runs[workers]["last_epoch_split"] = within_last_epoch(capture.lines, runs[workers], args.rows, cfg.optim.batch_size)
        streamed_cfg = train_config(data, work / "runs", "bench-2w-streamed", 2, args.epochs, "data.cache=false")
        streamed = raylane_run(streamed_cfg)  # data.cache false: Parquet read and transformed again every epoch
        data_path = data_path_alone(cfgs[1], pipeline, work / "pipeline", passes=2)
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = summarise(plain, plain_one_thread, plain_ddp, runs, data_path, gpu)
    report["summary"]["per_worker_ratio_2_workers_streamed_vs_plain"] = streamed["samples_per_s_per_worker"] / plain["samples_per_s"]
    print_table(plain, plain_one_thread, plain_ddp, runs, data_path, gpu, report)
    if gpu is None:
        print("no GPU: GPU section skipped")
    payload = {
        "rows": args.rows, "valid_rows": args.valid_rows, "epochs": args.epochs, "config": str(CONFIG.relative_to(REPO)),
        "model": cfgs[1].model, "batch_size_per_worker": cfgs[1].optim.batch_size,
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "plain_prepare_s": prepare, "ray_start_s": ray_start_s,
        "plain": plain, "plain_1_thread": plain_one_thread, "plain_ddp_2_processes": plain_ddp, "raylane": {f"{w}_workers": r for w, r in runs.items()},
        "raylane_2_workers_streamed": streamed,
        "data_path_alone": data_path, "gpu_model_step": gpu, **report, "notes": NOTES,
    }
    print(f"wrote {write_result('train', payload)}")
    return 0


if __name__ == "__main__":
    with private_raylane_home():
        sys.exit(main())
