"""Compiling the `.cu` sources of this package and sizing launches, memoized per device.

Every kernel lives in a `.cu` file next to this module and is fetched by name:

    >>> fn = kernel("numeric.cu", "bucketize")          # doctest: +SKIP
    >>> fn((grid_for(n),), (BLOCK,), (values, np.int64(n), edges, np.int64(e), out))  # doctest: +SKIP

Importing this module without CuPy raises an ImportError that says what to install.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

try:
    import cupy
except ImportError as error:  # pragma: no cover - depends on the machine
    raise ImportError(
        "kernels.gpu needs CuPy: install it with `pip install 'raylane[gpu]'` (cupy-cuda12x; "
        "cupy-cuda13x for CUDA 13), or run on the CPU backend with RAYLANE_DEVICE=cpu"
    ) from error

__all__ = ["BLOCK", "SOURCE_DIR", "cupy", "device_array", "grid_for", "kernel", "offsets_array"]

SOURCE_DIR = Path(__file__).resolve().parent
# Threads per block for every launch. The reduction kernels size their shared memory for it
# (RAYLANE_BLOCK in the .cu files), so it must stay a power of two no larger than 256.
BLOCK = 256
# Resident blocks per SM worth launching for a grid-stride loop: enough to hide memory latency.
_BLOCKS_PER_SM = 8


@functools.cache
def _headers_digest() -> str:
    """Digest of the shared headers: part of the compile options, so CuPy's on-disk kernel cache
    (keyed by source and options, blind to #include-d files) rebuilds when a header changes."""
    digest = hashlib.sha256()
    for header in sorted(SOURCE_DIR.glob("*.cuh")):
        digest.update(header.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def _module(source: str, device_id: int) -> "cupy.RawModule":
    options = ("--std=c++17", f"-I{SOURCE_DIR}", f"-DRAYLANE_HEADERS_DIGEST=0x{_headers_digest()}")
    with cupy.cuda.Device(device_id):
        return cupy.RawModule(code=(SOURCE_DIR / source).read_text(), options=options)


@functools.cache
def _function(source: str, name: str, device_id: int) -> "cupy.RawKernel":
    with cupy.cuda.Device(device_id):
        return _module(source, device_id).get_function(name)


def kernel(source: str, name: str) -> "cupy.RawKernel":
    """The `extern "C"` kernel `name` of `source` (a `.cu` file here), compiled for the current device."""
    return _function(source, name, cupy.cuda.Device().id)


@functools.cache
def _multiprocessors(device_id: int) -> int:
    return int(cupy.cuda.Device(device_id).attributes["MultiProcessorCount"])


def grid_for(n: int, per_thread: int = 1, share: int = 1) -> int:
    """Blocks for a grid-stride loop over `n` items: enough to fill the device, never more than
    the items need. `share` splits the device between that many independent grid rows."""
    needed = -(-n // (BLOCK * per_thread))
    budget = max(1, _multiprocessors(cupy.cuda.Device().id) * _BLOCKS_PER_SM // share)
    return int(max(1, min(needed, budget)))


def device_array(array, dtype, name: str, ndim: int = 1) -> "cupy.ndarray":
    """`array` as a C-contiguous CuPy array of `dtype` (copying only when needed)."""
    result = cupy.ascontiguousarray(cupy.asarray(array, dtype=dtype))
    if result.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {result.shape}")
    return result


def offsets_array(offsets, name: str = "offsets") -> "cupy.ndarray":
    """Arrow offsets as a contiguous int32 or int64 CuPy array (other integer types widen to int64)."""
    offsets = cupy.asarray(offsets)
    dtype = offsets.dtype if offsets.dtype in (np.int32, np.int64) else np.int64
    offsets = device_array(offsets, dtype, name)
    if len(offsets) == 0:
        raise ValueError(f"{name}: expected n+1 >= 1 entries, got an empty array")
    return offsets
