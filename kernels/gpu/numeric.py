"""The fused numeric chain and bucketize on the GPU (`numeric.cu`).

`numeric_chain` reads every continuous column once and writes float32 once: one kernel launch
for all columns, each block running one column's program from shared memory.

Example:
    >>> import cupy, numpy as np                                        # doctest: +SKIP
    >>> program = np.array([[[1, 0.0, 0.0], [3, 0.0, 0.0]]])            # FILL 0, then LOG1P
    >>> numeric_chain(cupy.array([[np.nan, 1.0]]), program)            # doctest: +SKIP
    array([[0.       , 0.6931472]], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from kernels.gpu._runtime import BLOCK, cupy, device_array, grid_for, kernel

__all__ = ["numeric_chain", "bucketize"]

_SOURCE = "numeric.cu"
_OPCODES = range(6)  # NOP FILL CLIP LOG1P SCALE ZERO, as in kernels.cpu.numeric
_MAX_STEPS = 32  # RAYLANE_MAX_STEPS in numeric.cu: the shared-memory program size
_UNROLL = 4  # RAYLANE_UNROLL in numeric.cu: rows per thread per tile
_MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y, which indexes the column


def _compact_program(program) -> np.ndarray:
    """The program on the host, validated, with NOP padding dropped (NOP neither acts nor rounds).

    Reading the few program bytes back costs one tiny synchronous copy per call."""
    program = np.asarray(cupy.asnumpy(program) if isinstance(program, cupy.ndarray) else program, dtype=np.float64)
    if program.ndim != 3 or program.shape[2] != 3:
        raise ValueError(f"numeric_chain: expected program [c, k, 3], got shape {program.shape}")
    opcodes = program[..., 0]
    if not np.isfinite(opcodes).all() or not np.isin(opcodes.astype(np.int64), _OPCODES).all():
        raise ValueError(f"numeric_chain: unknown opcode in {np.unique(opcodes).tolist()}; expected 0..5")
    steps = [column[column[:, 0].astype(np.int64) != 0] for column in program]
    k = max((len(s) for s in steps), default=0)
    if k > _MAX_STEPS:
        raise ValueError(f"numeric_chain: at most {_MAX_STEPS} non-NOP steps per column, got {k}")
    compact = np.zeros((len(program), k, 3), dtype=np.float64)
    for column, s in enumerate(steps):
        compact[column, : len(s)] = s
    return compact


def numeric_chain(values, program) -> "cupy.ndarray":
    """Run program[c] = k steps (opcode, a, b) on values[c]; float32 rounding after every step."""
    values = device_array(values, cupy.float64, "numeric_chain: values", ndim=2)
    compact = _compact_program(program)
    c, n = values.shape
    if compact.shape[0] != c:
        raise ValueError(f"numeric_chain: program has {compact.shape[0]} columns, values have {c}")
    out = cupy.empty((c, n), dtype=cupy.float32)
    if c == 0 or n == 0:
        return out
    steps = compact.shape[1]
    device_program = cupy.asarray(compact)
    launch = kernel(_SOURCE, "numeric_chain")
    for first in range(0, c, _MAX_GRID_Y):
        count = min(_MAX_GRID_Y, c - first)
        grid = (grid_for(n, per_thread=_UNROLL, share=count), count)
        args = (values[first : first + count], device_program[first : first + count], np.int64(n), np.int32(steps),
                out[first : first + count])
        launch(grid, (BLOCK,), args)
    return out


def bucketize(values, edges) -> "cupy.ndarray":
    """NaN → 0, else searchsorted(edges, x, side="right") + 1 (so 1 … len(edges)+1), int64[n]."""
    values = device_array(values, cupy.float64, "bucketize: values")
    edges = device_array(edges, cupy.float64, "bucketize: edges")
    n = len(values)
    out = cupy.empty(n, dtype=cupy.int64)
    if n:
        args = (values, np.int64(n), edges, np.int64(len(edges)), out)
        kernel(_SOURCE, "bucketize")((grid_for(n),), (BLOCK,), args)
    return out
