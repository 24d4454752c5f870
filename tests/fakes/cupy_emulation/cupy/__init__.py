"""A fake `cupy` that runs raylane's CUDA kernels on the CPU, so tests cover them without a GPU.

Use it only by putting its parent folder first on PYTHONPATH of a separate process:

    PYTHONPATH=tests/fakes/cupy_emulation python -m pytest tests/kernels/test_gpu_matches_cpu.py

(tests/kernels/test_gpu_emulated.py does exactly that). It is never importable otherwise.

What it emulates:
* Device arrays are NumPy arrays of a subclass, `cupy.ndarray`, with `.get()` and `.set()`.
  `asarray` copies host data, as a host-to-device transfer does. Every other `cupy.X` is
  `numpy.X`, with array results turned into `cupy.ndarray`.
* `RawModule` compiles the `.cu` source with g++ (C++20) against `cuda_shim.h`, which maps the
  CUDA C++ the kernels use onto the host: a block's threads are real threads, `__syncthreads` is
  a barrier, atomics are `std::atomic_ref`. Libraries are cached by content under
  $RAYLANE_CUPY_EMULATION_CACHE (default: ~/.cache/raylane/cupy-emulation).
* Every launch is checked the way a real one fails, or worse, silently misbehaves: the argument
  count and each argument against the kernel's C signature (array dtype, contiguity and
  alignment; scalar NumPy type), block size against `__launch_bounds__` and 1024, grid limits.
* One device (id 0) whose streams and events are already complete.

Its limits, so a pass here does not replace a run on a GPU:
* No device semantics beyond the above: no warps, no memory model (racy plain loads and stores
  are whatever the host does), blocks of a launch run one after another, shared memory is one
  static array per kernel that persists, zero-filled, between blocks and launches.
* Device arrays are host memory: code that hands a CuPy array to NumPy, or uses a NumPy function
  CuPy lacks or treats differently, works here and fails on a GPU.
* Only 1-D blocks and 1-D or 2-D grids; no dynamic shared memory; no streams or concurrency.
* A kernel that reaches `__syncthreads` on only some threads of a block hangs (on a GPU it is
  undefined behaviour): run it under a timeout.
* Nothing about performance: an emulated launch is orders of magnitude slower.
"""

import functools as _functools

import numpy as _np

from cupy import cuda
from cupy._raw_module import RawKernel, RawModule

__all__ = ["RawKernel", "RawModule", "ascontiguousarray", "asarray", "asnumpy", "cuda", "ndarray"]


class ndarray(_np.ndarray):  # noqa: N801 - CuPy's name
    """A "device" array: host memory, with CuPy's explicit transfers."""

    def get(self, stream=None) -> _np.ndarray:
        """A NumPy copy on the host."""
        return self.view(_np.ndarray).copy()

    def set(self, arr, stream=None) -> None:
        """Copy the host array `arr` in; like CuPy, shape and dtype must match exactly."""
        arr = _np.asarray(arr)
        if arr.shape != self.shape or arr.dtype != self.dtype:
            raise ValueError(f"set: got {arr.dtype}{list(arr.shape)} for a {self.dtype}{list(self.shape)} array")
        _np.copyto(self.view(_np.ndarray), arr)


def _to_device(x):
    if isinstance(x, _np.ndarray):
        return x.view(ndarray)
    if type(x) in (tuple, list):
        return type(x)(_to_device(v) for v in x)
    return x


def _to_host(x):
    if isinstance(x, ndarray):
        return x.view(_np.ndarray)
    if type(x) in (tuple, list):
        return type(x)(_to_host(v) for v in x)
    return x


def asarray(a, dtype=None, order=None) -> ndarray:
    """`a` as a device array: device arrays pass through (cast if needed), host data is copied."""
    if isinstance(a, ndarray):
        return _to_device(_np.asarray(_to_host(a), dtype=dtype, order=order))
    return _to_device(_np.array(a, dtype=dtype, order=order, copy=True))


def ascontiguousarray(a, dtype=None) -> ndarray:
    return _to_device(_np.ascontiguousarray(_to_host(asarray(a, dtype=dtype))))


def asnumpy(a, stream=None) -> _np.ndarray:
    """A host copy of a device array (or of anything NumPy takes)."""
    return _np.array(_to_host(a), copy=True)


def __getattr__(name):
    """`cupy.X` is `numpy.X`, with results as device arrays; `out=` is written in place."""
    if name.startswith("__") or not hasattr(_np, name):
        raise AttributeError(f"module 'cupy' has no attribute {name!r} (the emulation serves cupy.X from numpy.X)")
    value = getattr(_np, name)
    if not callable(value) or isinstance(value, type):
        return value

    @_functools.wraps(value)
    def on_device(*args, **kwargs):
        kwargs = {k: v if k == "out" else _to_host(v) for k, v in kwargs.items()}
        return _to_device(value(*_to_host(args), **kwargs))

    return on_device
