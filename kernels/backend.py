"""The one place raylane decides between the CPU (NumPy) and GPU (CuPy) backends.

`RAYLANE_DEVICE` = `auto` (default: GPU when CuPy and a device are present), `cpu` or `gpu`
(an error when no GPU can be used). CuPy is imported lazily so this module works without it.

Example:
    >>> import numpy as np
    >>> get_array_module(np.zeros(3)) is np
    True
    >>> use_gpu() in (True, False)
    True
"""

from __future__ import annotations

import functools
import os
import sys
from types import ModuleType

import numpy as np

from framework.errors import ConfigError

__all__ = ["DEVICE_ENV", "device_setting", "gpu_available", "use_gpu", "get_array_module"]

DEVICE_ENV = "RAYLANE_DEVICE"
_SETTINGS = ("auto", "cpu", "gpu")


def device_setting() -> str:
    """The requested device: `auto`, `cpu` or `gpu`, read from `RAYLANE_DEVICE`."""
    value = os.environ.get(DEVICE_ENV, "auto").strip().lower() or "auto"
    if value not in _SETTINGS:
        raise ConfigError(
            f"{DEVICE_ENV}={os.environ.get(DEVICE_ENV)!r}: expected one of {', '.join(_SETTINGS)}"
        )
    return value


@functools.lru_cache(maxsize=1)
def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device. Never raises."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any import/driver failure means "no GPU", by design
        return False


def use_gpu() -> bool:
    """Whether feature kernels should run on the GPU, per `RAYLANE_DEVICE`."""
    setting = device_setting()
    if setting == "cpu":
        return False
    if setting == "gpu":
        if not gpu_available():
            raise ConfigError(
                f"{DEVICE_ENV}=gpu, but no GPU can be used: install CuPy (pip install 'raylane[gpu]') "
                "and check that a CUDA device is visible, or set it to auto or cpu"
            )
        return True
    return gpu_available()


def get_array_module(*arrays) -> ModuleType:
    """`cupy` if any argument is a CuPy array, else `numpy`.

    CuPy is only consulted when something already imported it: a CuPy array cannot exist otherwise.
    """
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        for array in arrays:
            if isinstance(array, cupy.ndarray):
                return cupy
    return np
