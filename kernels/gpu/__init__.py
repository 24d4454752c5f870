"""CuPy kernels: the GPU twins of `kernels.cpu`, same names and results (see kernels/API.md).

`import kernels.gpu` works without CuPy; the first use of a function imports its module, which
raises an ImportError saying what to install when CuPy is missing. The CUDA sources are the `.cu`
files in this folder, compiled once per device (`_runtime.py`).

Example:
    >>> import cupy                                                    # doctest: +SKIP
    >>> from kernels import gpu
    >>> gpu.bucketize(cupy.array([float("nan"), 0.5, 2.0]), cupy.array([1.0]))  # doctest: +SKIP
    array([0, 1, 2])
"""

from __future__ import annotations

import importlib

_MODULE_OF = {
    "murmur3_int64": "hashing",
    "murmur3_strings": "hashing",
    "numeric_chain": "numeric",
    "bucketize": "numeric",
    "DeviceKeyIndex": "key_index",
    "build_key_index": "key_index",
    "lookup_keys": "key_index",
    "moments": "reductions",
    "min_max": "reductions",
    "group_sums": "reductions",
    "value_counts_int64": "value_counts",
    "value_counts_strings": "value_counts",
    "to_device": "transfer",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'kernels.gpu' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kernels.gpu.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
