"""Claim: the fused GPU feature kernels run at memory bandwidth (goal: >= 75% of a device copy).

Compares, in one run on one GPU:
  * `numeric_chain` (13 continuous columns, Criteo's FILL → CLIP → LOG1P → SCALE) against a CuPy
    device-to-device copy, both as bytes read + written per second;
  * categorify lookups (`lookup_keys`, int64 and 8-byte hex strings against a 1M-key vocabulary)
    against the same copy bandwidth;
  * end to end, host NumPy columns → `to_device` (one pinned copy) → chain + lookups, in rows/s,
    next to the baseline of one pageable `cupy.asarray` per column.
Writes benchmarks/results/gpu_kernels-<device>.json. Without a GPU it says so and exits 0.

    python benchmarks/gpu_kernels.py [--rows 16777216] [--repeats 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_device_result  # noqa: E402

CONTINUOUS, CATEGORICAL, VOCABULARY = 13, 26, 1_000_000
CRITEO_PROGRAM = [[1, 0.0, 0.0], [2, 0.0, np.inf], [3, 0.0, 0.0], [4, 1.2, 1.7]]  # FILL CLIP LOG1P SCALE


def device_seconds(cupy, fn, repeats: int) -> float:
    """Median seconds of fn() on the GPU, timed with CUDA events after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    return float(np.median(times))


def wall_seconds(cupy, fn, repeats: int) -> float:
    """Median wall-clock seconds of fn() including host work, synchronizing the device each time."""
    fn()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        cupy.cuda.Device().synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def hex_strings(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Criteo-style 8-character hex strings of `codes` as Arrow (int32 offsets, data) buffers."""
    data = np.frombuffer("".join(f"{c:08x}" for c in codes.tolist()).encode(), dtype=np.uint8)
    return np.arange(0, 8 * len(codes) + 1, 8, dtype=np.int32), data


def bandwidth_section(cupy, gpu, rows: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    values = cupy.asarray(rng.lognormal(2.0, 2.0, size=(CONTINUOUS, rows)))
    values[:, ::17] = np.nan
    program = cupy.asarray(np.array([CRITEO_PROGRAM] * CONTINUOUS, dtype=np.float64))
    copy_target = cupy.empty_like(values)
    copy_s = device_seconds(cupy, lambda: cupy.copyto(copy_target, values), repeats)
    copy_bandwidth = 2 * values.nbytes / copy_s
    chain_s = device_seconds(cupy, lambda: gpu.numeric_chain(values, program), repeats)
    chain_bandwidth = values.size * (8 + 4) / chain_s

    vocabulary = cupy.asarray(rng.choice(2**40, size=VOCABULARY, replace=False).astype(np.int64))
    int_index = gpu.build_key_index(vocabulary)
    hits = vocabulary[cupy.asarray(rng.integers(0, VOCABULARY, size=rows))]
    lookups = cupy.where(cupy.asarray(rng.random(rows) < 0.9), hits, -hits - 1)  # 10% out of vocabulary
    int_s = device_seconds(cupy, lambda: gpu.lookup_keys(int_index, lookups), repeats)
    int_bandwidth = rows * (8 + 8) / int_s

    string_rows = min(rows, 1 << 22)
    vocab_codes = rng.choice(2**32, size=VOCABULARY, replace=False)
    string_index = gpu.build_key_index(tuple(cupy.asarray(a) for a in hex_strings(vocab_codes)))
    offsets, data = (cupy.asarray(a) for a in hex_strings(vocab_codes[rng.integers(0, VOCABULARY, size=string_rows)]))
    string_s = device_seconds(cupy, lambda: gpu.lookup_keys(string_index, (offsets, data)), repeats)
    string_bandwidth = string_rows * (4 + 8 + 8) / string_s
    return {
        "copy": {"seconds": copy_s, "bytes_per_s": copy_bandwidth},
        "numeric_chain": {"seconds": chain_s, "bytes_per_s": chain_bandwidth, "ratio_to_copy": chain_bandwidth / copy_bandwidth},
        "lookup_int64": {"seconds": int_s, "bytes_per_s": int_bandwidth, "ratio_to_copy": int_bandwidth / copy_bandwidth},
        "lookup_strings": {"rows": string_rows, "seconds": string_s, "bytes_per_s": string_bandwidth,
                           "ratio_to_copy": string_bandwidth / copy_bandwidth},
    }


def end_to_end_section(cupy, gpu, rows: int, repeats: int) -> dict:
    from kernels.gpu.transfer import to_device

    rng = np.random.default_rng(1)
    host = [rng.lognormal(2.0, 2.0, size=(CONTINUOUS, rows))] + [
        rng.integers(0, 2 * VOCABULARY, size=rows).astype(np.int64) for _ in range(CATEGORICAL)
    ]
    program = cupy.asarray(np.array([CRITEO_PROGRAM] * CONTINUOUS, dtype=np.float64))
    index = gpu.build_key_index(cupy.arange(VOCABULARY, dtype=cupy.int64) * 2)

    def transform(columns):
        gpu.numeric_chain(columns[0], program)
        for column in columns[1:]:
            gpu.lookup_keys(index, column)

    pinned_s = wall_seconds(cupy, lambda: transform(to_device(host)), repeats)
    pageable_s = wall_seconds(cupy, lambda: transform([cupy.asarray(c) for c in host]), repeats)
    transfer_s = wall_seconds(cupy, lambda: to_device(host), repeats)
    nbytes = sum(c.nbytes for c in host)
    return {
        "rows": rows,
        "rows_per_s_pinned_single_copy": rows / pinned_s,
        "rows_per_s_pageable_per_column": rows / pageable_s,
        "speedup_over_pageable": pageable_s / pinned_s,
        "to_device_bytes_per_s": nbytes / transfer_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1 << 24)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    from kernels.backend import gpu_available

    if not gpu_available():
        print("gpu_kernels: no CUDA device (or no CuPy) here; nothing to measure")
        return 0
    import cupy

    from kernels import gpu

    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    report = {
        "device": name,
        "cupy": cupy.__version__,
        "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
        "rows": args.rows,
        "bandwidth": bandwidth_section(cupy, gpu, args.rows, args.repeats),
        "end_to_end": end_to_end_section(cupy, gpu, min(args.rows, 1 << 22), max(3, args.repeats // 4)),
    }
    path = write_device_result("gpu_kernels", name, report)
    bandwidth = report["bandwidth"]
    for key in ("numeric_chain", "lookup_int64", "lookup_strings"):
        print(f"{key:15s} {bandwidth[key]['bytes_per_s'] / 1e9:8.1f} GB/s = {bandwidth[key]['ratio_to_copy']:.2f} x copy")
    e2e = report["end_to_end"]
    print(f"end to end     {e2e['rows_per_s_pinned_single_copy'] / 1e6:8.1f} M rows/s "
          f"({e2e['speedup_over_pageable']:.2f} x per-column pageable copies)")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    with private_raylane_home():
        sys.exit(main())
