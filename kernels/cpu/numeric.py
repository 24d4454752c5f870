"""The fused numeric chain and bucketize: CPU twins of the GPU numeric kernels.

`numeric_chain` runs every continuous column's little program in one pass. Each column is processed
in cache-sized chunks so that a chain of several steps touches main memory once, not once per step;
columns run side by side on the shared thread pool.

Example:
    >>> import numpy as np
    >>> program = np.array([[[FILL, 0.0, 0.0], [LOG1P, 0.0, 0.0]]])
    >>> numeric_chain(np.array([[np.nan, 1.0]]), program)
    array([[0.       , 0.6931472]], dtype=float32)
"""

from __future__ import annotations

import math

import numpy as np

from kernels.cpu.threads import parallel_map

__all__ = ["NOP", "FILL", "CLIP", "LOG1P", "SCALE", "ZERO", "numeric_chain", "bucketize"]

NOP, FILL, CLIP, LOG1P, SCALE, ZERO = 0, 1, 2, 3, 4, 5
_CHUNK = 1 << 15  # 256 KiB of float64: the chunk and its float32 twin stay in L2


def _apply_step(x: np.ndarray, opcode: int, a: float, b: float) -> None:
    """One step on a float64 chunk, in place."""
    if opcode == FILL:
        np.copyto(x, a, where=np.isnan(x))
    elif opcode == CLIP:
        np.clip(x, a, b, out=x)  # minimum/maximum propagate NaN: missing stays missing
    elif opcode == LOG1P:
        invalid = x <= -1.0
        np.log1p(x, out=x, where=~invalid)
        x[invalid] = np.nan
    elif opcode == SCALE:
        x -= a
        x /= b
    elif opcode == ZERO:
        np.copyto(x, 0.0, where=~np.isnan(x))
    elif opcode != NOP:
        raise ValueError(f"numeric_chain: unknown opcode {opcode}")


def _exact_in_float32(value: float) -> bool:
    return bool(np.float32(value) == value) or math.isinf(value)


def _run_column(values: np.ndarray, steps: np.ndarray, out: np.ndarray) -> None:
    steps = [(int(op), float(a), float(b)) for op, a, b in steps if int(op) != NOP]
    work = np.empty(min(_CHUNK, len(values)), dtype=np.float64)
    for start in range(0, len(values), _CHUNK):
        x = work[: min(_CHUNK, len(values) - start)]
        rounded = out[start : start + len(x)]
        np.copyto(x, values[start : start + len(x)])
        representable = in_sync = False  # x is float32-exact / `rounded` already holds x
        for opcode, a, b in steps:
            _apply_step(x, opcode, a, b)
            # FILL/CLIP/ZERO only pick between x and float32-exact constants: rounding again is a no-op.
            keeps = opcode == ZERO or (opcode in (FILL, CLIP) and _exact_in_float32(a) and _exact_in_float32(b))
            in_sync = not (representable and keeps)
            if in_sync:
                rounded[...] = x  # every op outputs float32: round, then go on in float64
                np.copyto(x, rounded)
            representable = True
        if not in_sync:
            rounded[...] = x


def numeric_chain(values: np.ndarray, program: np.ndarray) -> np.ndarray:
    """Run program[c] = k steps (opcode, a, b) on values[c]; round to float32 after every step."""
    values = np.asarray(values, dtype=np.float64)
    program = np.asarray(program, dtype=np.float64)
    if values.ndim != 2 or program.ndim != 3 or program.shape[0] != values.shape[0] or program.shape[2] != 3:
        raise ValueError(f"numeric_chain: expected values [c, n] and program [c, k, 3], got {values.shape} and {program.shape}")
    out = np.empty(values.shape, dtype=np.float32)
    parallel_map(lambda column: _run_column(values[column], program[column], out[column]), range(values.shape[0]),
                 rows=values.shape[1])
    return out


def bucketize(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """NaN → 0, else searchsorted(edges, x, side="right") + 1 (so 1 … len(edges)+1), int64."""
    values = np.asarray(values, dtype=np.float64)
    buckets = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right").astype(np.int64)
    buckets += 1
    buckets[np.isnan(values)] = 0
    return buckets
