"""Categorical key lookups on the CPU: raylane's kernel against pandas and Arrow, by batch size.

The lookup behind categorify and target encoding maps each value to its position in the fitted
vocabulary (or -1). Served requests and small batches look up a few values against a vocabulary
that may hold a million keys, so a lookup must not cost O(keys) per call. Compared, on the same
keys and values in the same run:
  raylane    kernels.cpu.lookup_keys with one index built up front and reused, as a replica does
  pandas     pd.Index(keys).get_indexer(values), the Index built once (its hash table is kept)
  arrow      pyarrow.compute.index_in(values, value_set=keys): rebuilds its hash set every call
for int64 keys and for 8-character hex strings (as in Criteo), 1M keys, Zipf-distributed values.
Every result is checked against pandas. Times are the best of --repeats calls.

    python benchmarks/lookup.py [--keys 1000000] [--repeats 5]
Writes benchmarks/results/lookup.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_result  # noqa: E402
from kernels import cpu  # noqa: E402
from kernels.cpu.strings import string_buffers  # noqa: E402

BATCHES = (1, 16, 1_000, 65_536, 1_000_000)


def best_ms(call, repeats: int) -> float:
    call()  # the first call builds whatever the method keeps between calls
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times) * 1e3


def measure(kind: str, keys: np.ndarray, values: np.ndarray, repeats: int) -> dict:
    if kind == "string":
        to_arrow = lambda a: pa.array(np.char.mod("%08x", a).astype(object), type=pa.large_string())  # noqa: E731
    else:
        to_arrow = lambda a: pa.array(a, type=pa.int64())  # noqa: E731
    key_array, value_array = to_arrow(keys), to_arrow(values)
    kernel_keys = string_buffers(key_array) if kind == "string" else keys
    kernel_values = string_buffers(value_array) if kind == "string" else values
    python_keys = pd.Index(key_array.to_pylist()) if kind == "string" else pd.Index(keys)
    python_values = value_array.to_pylist() if kind == "string" else values
    started = time.perf_counter()
    index = cpu.build_key_index(kernel_keys)
    build_ms = (time.perf_counter() - started) * 1e3
    expected = python_keys.get_indexer(python_values)
    if not np.array_equal(cpu.lookup_keys(index, kernel_values), expected):
        raise AssertionError(f"{kind}: raylane's positions differ from pandas")
    return {
        "raylane_ms": best_ms(lambda: cpu.lookup_keys(index, kernel_values), repeats),
        "pandas_ms": best_ms(lambda: python_keys.get_indexer(python_values), repeats),
        "arrow_index_in_ms": best_ms(lambda: pc.index_in(value_array, value_set=key_array), repeats),
        "raylane_index_build_ms": build_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    keys = rng.choice(np.int64(4) * args.keys, size=args.keys, replace=False).astype(np.int64)
    results = []
    for kind in ("int64", "string"):
        for batch in BATCHES:
            picks = np.minimum(rng.zipf(1.2, batch), args.keys) - 1
            values = np.where(rng.random(batch) < 0.1, np.int64(4) * args.keys + 1, keys[picks])  # 10% unseen
            row = {"keys": kind, "values": batch, **measure(kind, keys, values, args.repeats)}
            row["pandas_over_raylane"] = row["pandas_ms"] / row["raylane_ms"]
            row["arrow_over_raylane"] = row["arrow_index_in_ms"] / row["raylane_ms"]
            results.append(row)
            print(f"{kind:>6} keys, {batch:>9,} values: raylane {row['raylane_ms']:9.3f} ms   pandas {row['pandas_ms']:9.3f} ms "
                  f"({row['pandas_over_raylane']:6.1f}x)   arrow index_in {row['arrow_index_in_ms']:9.3f} ms "
                  f"({row['arrow_over_raylane']:6.1f}x)", flush=True)
    print(f"wrote {write_result('lookup', {'keys': args.keys, 'repeats': args.repeats, 'results': results})}")


if __name__ == "__main__":
    with private_raylane_home():
        main()
