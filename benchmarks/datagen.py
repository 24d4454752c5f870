"""Synthetic data generation: raylane's generator against a straightforward NumPy + pandas one.

Both produce the same shape (43 columns, the same null rates and cardinalities) and write Parquet.
The baseline is what one would write first: float64 NumPy draws, `Generator.zipf`, a pandas
DataFrame and `DataFrame.to_parquet`, one file at a time.

Each side runs --rounds times, alternating, and keeps its fastest (this VM's timings vary by a third
from run to run); every round's seconds are in the result.

    python benchmarks/datagen.py [--rows 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_result  # noqa: E402
from framework.data._synthetic_spec import CATEGORICAL, NUMERIC  # noqa: E402
from framework.data.generate import GenerateRequest, write_synthetic_dataset  # noqa: E402
from framework.data.synthetic import generate_rows  # noqa: E402


def baseline_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {"id": np.arange(rows), "label": (rng.random(rows) < 0.25).astype(np.int8)}
    for spec in NUMERIC:
        values = np.floor(spec.scale * rng.pareto(spec.alpha, rows)).astype("float64")
        values[rng.random(rows) < spec.null_rate] = np.nan
        data[spec.name] = pd.array(values, dtype="Int64")
    for spec in CATEGORICAL:
        ranks = np.minimum(rng.zipf(1.0 + spec.zipf_exponent, rows), spec.cardinality)
        codes = (ranks * 2654435761) % 2**32
        values = pd.Series([f"{c:08x}" for c in codes]) if spec.is_string else pd.Series(codes, dtype="Int64")
        values[rng.random(rows) < spec.null_rate] = None
        data[spec.name] = values
    data["p_true"] = rng.random(rows)
    data["user_email"] = [f"user{u}@example.com" for u in rng.integers(0, 1_000_000, rows)]
    return pd.DataFrame(data)


def run_baseline(rows: int, out: Path, files: int) -> float:
    started = time.perf_counter()
    out.mkdir(parents=True)
    for number, chunk in enumerate(np.array_split(np.arange(rows), files)):
        baseline_frame(len(chunk), seed=number).to_parquet(out / f"part-{number:05d}.parquet", index=False)
    return time.perf_counter() - started


def run_raylane(rows: int, out: Path, files: int, seed: int = 7) -> float:
    started = time.perf_counter()
    write_synthetic_dataset(out, GenerateRequest(rows=rows, seed=seed, files_per_day=files))
    return time.perf_counter() - started


def run_in_memory(rows: int, seed: int = 1000) -> float:
    started = time.perf_counter()
    generate_rows(0, rows, seed=seed)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; each side keeps its fastest (default 3)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="raylane-datagen-"))
    rounds = {"raylane": [], "baseline": [], "in_memory": []}
    try:
        for turn in range(args.rounds):  # a new seed each round: no block is ever served from the generator's cache
            rounds["raylane"].append(run_raylane(args.rows, work / f"raylane-{turn}", args.files, seed=7 + turn))
            rounds["baseline"].append(run_baseline(args.rows, work / f"baseline-{turn}", args.files))
            rounds["in_memory"].append(run_in_memory(args.rows, seed=1000 + turn))
            shutil.rmtree(work / f"raylane-{turn}", ignore_errors=True)
            shutil.rmtree(work / f"baseline-{turn}", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    raylane_s, baseline_s, memory_s = (min(rounds[k]) for k in ("raylane", "baseline", "in_memory"))
    result = {
        "rows": args.rows,
        "files": args.files,
        "rounds": args.rounds,
        "seconds_by_round": {k: [round(v, 3) for v in values] for k, values in rounds.items()},
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "raylane_write_s": round(raylane_s, 3),
        "raylane_write_rows_per_s": round(args.rows / raylane_s),
        "raylane_in_memory_one_thread_rows_per_s": round(args.rows / memory_s),
        "baseline_pandas_write_s": round(baseline_s, 3),
        "baseline_pandas_write_rows_per_s": round(args.rows / baseline_s),
        "speedup_vs_baseline": round(baseline_s / raylane_s, 2),
        "goal_rows_per_s": 1_000_000,
    }
    for key, value in result.items():
        print(f"{key:>42}: {value:,}" if isinstance(value, int) else f"{key:>42}: {value}")
    print(f"wrote {write_result('datagen', result)}")


if __name__ == "__main__":
    with private_raylane_home():
        main()
