"""Batch scoring throughput: raylane end to end (Ray's start counted) against a plain single-process loop.

One run, same machine, same Parquet files, same bundle (the model and feature pipeline of
jobs/configs/train_small.yaml: dlrm 16/[64,16]/[64,32], fitted on generated training rows):
  plain     for each file: pyarrow read → the same transform (framework.models.inputs.model_inputs)
            → torch forward in slices of `predict_rows` (torch's default threads) → pyarrow write
  raylane   ensure_ray() (a local cluster starting in this process: counted) → run_scoring: footer
            plan and contract check, the Ray Data actor pool, the atomic commit. Rows/s are over the
            whole wall time, Ray's start included.
The plain loop runs first, on a machine without Ray. With a GPU (torch.cuda.is_available()) the pure
forward throughput on the device is measured too, as the ceiling for GPU batch scoring.

    python benchmarks/score.py --rows 10000000 --files 16 --rounds 2   # the full run (~10 min, quiet 2 cores)
    python benchmarks/score.py --rows 1000000 --files 8             # a quick check
    python benchmarks/score.py --rows 20000 --files 2 --rounds 1 --train-rows 20000   # does it run (tests)
Writes benchmarks/results/score.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GOAL = 1.0  # raylane rows/s over the plain loop's, Ray's start included
TRAIN_ROWS = 200_000  # rows the bundle's pipeline is fitted on (--train-rows)


def load_average() -> float:
    return os.getloadavg()[0]


def make_bundle(work: Path, train_rows: int = TRAIN_ROWS) -> Path:
    """The train_small pipeline fitted on generated rows, and its (seeded, untrained) dlrm: the same
    compute per row as a trained one, without spending the benchmark's time on training."""
    from framework.config import read_yaml
    from framework.data import read_table
    from framework.data.generate import CONTRACT_FILE, GenerateRequest, write_synthetic_dataset
    from framework.features import FeaturePipeline
    from framework.models import build_model, save_bundle, validate_model_config

    write_synthetic_dataset(work / "train", GenerateRequest(rows=train_rows, seed=1))
    config = read_yaml(REPO / "jobs" / "configs" / "train_small.yaml")
    pipeline = FeaturePipeline.from_yaml_dict(config["features"]).fit(read_table(work / "train"))
    schema = pipeline.output_schema
    model_config = validate_model_config(config["model"])
    model = build_model(model_config, len(schema.continuous), list(schema.categorical.values()), seed=0)
    return save_bundle(work / "bundle", model=model, model_config=model_config, continuous_columns=list(schema.continuous),
                       categorical_columns=list(schema.categorical), cardinalities=list(schema.categorical.values()),
                       pipeline=pipeline, metrics={}, contract_path_or_text=work / "train" / CONTRACT_FILE,
                       lineage={"run_name": "benchmark"})


def same_data(day: Path, request) -> bool:
    marker = day / "_generated.json"
    return marker.is_file() and json.loads(marker.read_text()) == dataclasses.asdict(request)


def plain_loop(bundle_dir: Path, day: Path, out: Path, predict_rows: int, threads: int | None) -> dict:
    """What one would write without raylane, phase by phase (torch's default threads unless given)."""
    from framework.data import list_parquet_files
    from framework.models.inputs import model_inputs
    from framework.score import BundleScorer

    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    scorer = BundleScorer(bundle_dir)  # only to load the bundle and name the columns the pipeline reads
    bundle, columns = scorer.bundle, scorer.input_columns + ["id"]
    phases = dict.fromkeys(("read", "transform", "forward", "write"), 0.0)
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    for index, path in enumerate(list_parquet_files(day).paths):
        mark = time.perf_counter()
        table = pq.read_table(path, columns=columns)
        phases["read"] += time.perf_counter() - mark
        mark = time.perf_counter()
        arrays = model_inputs(bundle.pipeline, table)
        continuous, categorical = torch.from_numpy(arrays["continuous"]), torch.from_numpy(arrays["categorical"])
        phases["transform"] += time.perf_counter() - mark
        mark = time.perf_counter()
        with torch.inference_mode():
            logits = [bundle.model(continuous[i:i + predict_rows], categorical[i:i + predict_rows])
                      for i in range(0, len(continuous), predict_rows)]
            scores = torch.sigmoid(torch.cat(logits).double()).numpy()
        phases["forward"] += time.perf_counter() - mark
        mark = time.perf_counter()
        pq.write_table(pa.table({"id": table["id"], "score": scores}), out / f"part-{index:05d}.parquet")
        phases["write"] += time.perf_counter() - mark
        rows += table.num_rows
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "phases_s": phases,
            "torch_threads": torch.get_num_threads()}


def describe(run: dict) -> str:
    extra = f"Ray start {run['ray_start_s']:.1f} s, " if "ray_start_s" in run else ""
    return (f"{run['rows']:,} rows in {run['seconds']:.1f} s = {run['rows_per_s']:,.0f} rows/s; {extra}"
            + ", ".join(f"{k} {v:.1f} s" for k, v in run["phases_s"].items()))


def raylane_run(bundle_dir: Path, day: Path, out: Path, run_date: str, predict_rows: int) -> dict:
    from framework.ray_session import ensure_ray
    from framework.score import ScoreConfig, run_scoring, verify_run

    started = time.perf_counter()
    ensure_ray()
    ray_start = time.perf_counter() - started
    cfg = ScoreConfig(model=str(bundle_dir), input=str(day), output=str(out), run_date=run_date,
                      batch={"predict_rows": predict_rows})
    result = run_scoring(cfg)
    seconds = time.perf_counter() - started
    rows = result.manifest["rows"]["in"]
    assert verify_run(result.run_dir).ok
    import ray

    ray.shutdown()  # the next round starts Ray again, and that start is counted again
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "ray_start_s": ray_start,
            "phases_s": result.timings, "rows_per_s_without_ray_start": rows / (seconds - ray_start)}


def gpu_forward_ceiling(bundle_dir: Path, day: Path, predict_rows: int) -> dict | None:
    """Pure forward rows/s on the GPU over inputs already on the device."""
    if not torch.cuda.is_available():
        return None
    from framework.data import list_parquet_files
    from framework.models import load_bundle
    from framework.models.inputs import model_inputs

    bundle = load_bundle(bundle_dir)
    model = bundle.model.to("cuda")
    arrays = model_inputs(bundle.pipeline, pq.read_table(list_parquet_files(day).paths[0]))
    continuous, categorical = (torch.from_numpy(arrays[k]).cuda() for k in ("continuous", "categorical"))
    with torch.inference_mode():
        model(continuous[:predict_rows], categorical[:predict_rows])
        torch.cuda.synchronize()
        started = time.perf_counter()
        for i in range(0, len(continuous), predict_rows):
            torch.sigmoid(model(continuous[i:i + predict_rows], categorical[i:i + predict_rows]))
        torch.cuda.synchronize()
    return {"forward_rows_per_s": len(continuous) / (time.perf_counter() - started), "device": torch.cuda.get_device_name()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=16, help="input files (row groups of up to 1M rows each)")
    parser.add_argument("--predict-rows", type=int, default=4096, help="rows per forward pass, both sides")
    parser.add_argument("--plain-threads", type=int, default=None,
                        help="torch threads of the plain loop (default: torch's own, all cores)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating turns; the fastest of each side counts")
    parser.add_argument("--workdir", default=None, help="keep data here (default: a temporary directory)")
    parser.add_argument("--train-rows", type=int, default=TRAIN_ROWS, help="rows the bundle's pipeline is fitted on")
    args = parser.parse_args()

    from framework.data.generate import GenerateRequest, write_synthetic_dataset

    work = Path(args.workdir or tempfile.mkdtemp(prefix="raylane-bench-score-"))
    run_date = "2026-03-01"
    try:
        bundle = work / "bundle" if (work / "bundle").is_dir() else make_bundle(work, args.train_rows)
        day, request = work / "day", GenerateRequest(rows=args.rows, seed=9, start_date=run_date, files_per_day=args.files)
        if not same_data(day, request):  # a kept --workdir is reused when it holds these rows
            write_synthetic_dataset(day, request)
        load_before = load_average()
        plains, raylanes = [], []
        for round_index in range(args.rounds):  # turns alternate; each side keeps its fastest round
            plains.append(plain_loop(bundle, day, work / "plain-out", args.predict_rows, args.plain_threads))
            print(f"round {round_index + 1} plain loop: {describe(plains[-1])}", flush=True)
            raylanes.append(raylane_run(bundle, day, work / "raylane-out", run_date, args.predict_rows))
            print(f"round {round_index + 1} raylane: {describe(raylanes[-1])}", flush=True)
        plain, raylane = (max(runs, key=lambda r: r["rows_per_s"]) for runs in (plains, raylanes))
        gpu = gpu_forward_ceiling(bundle, day, args.predict_rows)
        ratio = raylane["rows_per_s"] / plain["rows_per_s"]
        print(f"ratio raylane / plain loop: {ratio:.2f}x (goal >= {GOAL:.1f}x, Ray's start included); "
              f"load average before {load_before:.1f}, after {load_average():.1f}")
        payload = {"rows": args.rows, "files": args.files, "predict_rows": args.predict_rows, "rounds": args.rounds,
                   "train_rows": args.train_rows, "plain_threads": args.plain_threads or "torch default",
                   "plain": plain, "raylane": raylane, "all_plain_rows_per_s": [r["rows_per_s"] for r in plains],
                   "all_raylane_rows_per_s": [r["rows_per_s"] for r in raylanes],
                   "ratio": ratio, "goal": GOAL, "goal_met": ratio >= GOAL, "gpu": gpu,
                   "load_average_before": load_before, "load_average_after": load_average(),
                   "torch_version": torch.__version__, "numpy_version": np.__version__}
        print(f"wrote {write_result('score', payload)}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    with private_raylane_home():
        sys.exit(main())
