"""`RawModule` and `RawKernel` for the CuPy emulation: g++ instead of NVRTC, host threads instead of a GPU.

The `extern "C" __global__` kernels of a module are found in its source, compiled together with
cuda_shim.h into a shared library (cached by content, outside the repository) and launched
through ctypes, each launch first checked against the kernel's C signature and CUDA's limits.
"""

from __future__ import annotations

import ctypes
import hashlib
import operator
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cupy

CACHE_ENV = "RAYLANE_CUPY_EMULATION_CACHE"
_SHIM = Path(__file__).resolve().with_name("cuda_shim.h")
_CXXFLAGS = ("-std=c++20", "-O1", "-fPIC", "-shared", "-pthread", "-Wall", "-Wno-unknown-pragmas")
_HEADER_SUFFIXES = (".h", ".cuh", ".hpp")
_KERNEL = re.compile(
    r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\(\s*(\w+)[^)]*\)\s*)?(\w+)\s*\(([^)]*)\)'
)
_DEFINE = re.compile(r"^\s*#define\s+(\w+)\s+(\d+)\s*$", re.M)
_C_TYPES = {
    "bool": np.bool_, "unsigned char": np.uint8, "int": np.int32, "unsigned int": np.uint32,
    "long long": np.int64, "unsigned long long": np.uint64, "float": np.float32, "double": np.float64,
}
# Structs passed by pointer, as (element dtype of the array that holds them, alignment).
# key_index.cu's IntSlot is {long long key, position}, alignas(16): an int64[capacity, 2] array.
_STRUCTS = {"IntSlot": (np.dtype(np.int64), 16)}
_MAX_THREADS_PER_BLOCK = 1024
_MAX_GRID = (2**31 - 1, 65535, 65535)
# ctypes releases the GIL during a launch, and the shim keeps the launch shape in globals.
_LAUNCH_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Parameter:
    c_type: str
    dtype: np.dtype
    pointer: bool
    alignment: int


def _parameter(text: str) -> _Parameter:
    words = re.sub(r"\b(const|__restrict__)\b", " ", text).replace("*", " * ").split()
    pointer = "*" in words
    c_type = " ".join(word for word in words[:-1] if word != "*")
    if pointer and c_type in _STRUCTS:
        dtype, alignment = _STRUCTS[c_type]
    elif c_type in _C_TYPES:
        dtype = np.dtype(_C_TYPES[c_type])
        alignment = dtype.alignment
    else:
        raise NotImplementedError(f"kernel parameter {text.strip()!r}: the CuPy emulation has no type {c_type!r}")
    return _Parameter(c_type, dtype, pointer, alignment)


def _launch_bound(token: str | None, code: str) -> int:
    """The most threads per block a kernel accepts: its __launch_bounds__, else CUDA's limit."""
    if token is None:
        return _MAX_THREADS_PER_BLOCK
    value = token if token.isdigit() else dict(_DEFINE.findall(code)).get(token)
    if value is None:
        raise NotImplementedError(f"__launch_bounds__({token}): not a number or a #define in the source")
    return int(value)


def _cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "raylane" / "cupy-emulation"
    return Path(os.environ.get(CACHE_ENV) or default)


def _library(source: str, flags: list[str]) -> Path:
    """The compiled `source`; the cache key covers everything the build reads, included headers too."""
    compiler = shutil.which("g++")
    if compiler is None:
        raise RuntimeError("the CuPy emulation compiles kernels with g++, which is not on PATH")
    headers = [
        path.read_text()
        for flag in flags if flag.startswith("-I")
        for path in sorted(Path(flag[2:]).iterdir()) if path.suffix in _HEADER_SUFFIXES
    ]
    digest = hashlib.sha256()
    for part in (compiler, *_CXXFLAGS, *flags, _SHIM.read_text(), source, *headers):
        digest.update(part.encode() + b"\0")
    library = _cache_dir() / f"{digest.hexdigest()[:24]}.so"
    if not library.exists():
        _compile(compiler, source, flags, library)
    return library


def _compile(compiler: str, source: str, flags: list[str], library: Path) -> None:
    library.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=library.parent) as work:
        cpp, built = Path(work) / "kernels.cpp", Path(work) / "kernels.so"
        cpp.write_text(source)
        command = [compiler, *_CXXFLAGS, "-include", str(_SHIM), *flags, "-o", str(built), str(cpp)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr}")
        sys.stderr.write(result.stderr)  # warnings: shown with the test that compiled the module
        os.replace(built, library)  # atomic, so concurrent runs can share the cache


class RawModule:
    """A CUDA source compiled for the host. Of `options`, only -I and -D flags mean anything to g++."""

    def __init__(self, code: str, options=()) -> None:
        self._kernels = {
            match.group(2): (
                [_parameter(p) for p in match.group(3).split(",") if p.strip()],
                _launch_bound(match.group(1), code),
            )
            for match in _KERNEL.finditer(code)
        }
        entries = "".join(f"EMULATED_KERNEL_ENTRY({name})\n" for name in self._kernels)
        flags = [option for option in options if option.startswith(("-I", "-D"))]
        self._library = ctypes.CDLL(str(_library(f"{code}\n{entries}", flags)))

    def get_function(self, name: str) -> RawKernel:
        if name not in self._kernels:
            raise ValueError(f'no extern "C" __global__ kernel {name!r}; the module has {sorted(self._kernels)}')
        parameters, max_threads = self._kernels[name]
        entry = ctypes.c_void_p.in_dll(self._library, f"emulated_entry_{name}").value
        return RawKernel(name, parameters, max_threads, entry)


class RawKernel:
    """One kernel of a `RawModule` (from `get_function`; CuPy's `RawKernel(code, name)` is not emulated)."""

    def __init__(self, name: str, parameters: list[_Parameter], max_threads: int, entry: int) -> None:
        self.name = name
        self._parameters, self._max_threads, self._entry = parameters, max_threads, entry

    def __call__(self, grid, block, args, shared_mem: int = 0) -> None:
        """Run the kernel to completion, as CuPy would launch it: kernel(grid, block, args)."""
        if shared_mem:
            raise NotImplementedError(f"{self.name}: the CuPy emulation has no dynamic shared memory")
        grid_x, grid_y, block_x = _launch_shape(self.name, grid, block, self._max_threads)
        if len(args) != len(self._parameters):
            raise TypeError(f"{self.name} takes {len(self._parameters)} arguments, got {len(args)}")
        c_types, values = [ctypes.c_uint] * 3, [grid_x, grid_y, block_x]
        for position, (arg, parameter) in enumerate(zip(args, self._parameters)):
            c_type, value = _c_argument(arg, parameter, f"{self.name} argument {position}")
            c_types.append(c_type)
            values.append(value)
        with _LAUNCH_LOCK:
            ctypes.CFUNCTYPE(None, *c_types)(self._entry)(*values)


def _launch_shape(name: str, grid, block, max_threads: int) -> tuple[int, int, int]:
    """(grid x, grid y, block x), after CUDA's limits and what the emulation runs."""
    if not (1 <= len(grid) <= 3 and 1 <= len(block) <= 3):
        raise ValueError(f"{name}: grid {grid} and block {block} need 1 to 3 dimensions")
    grid = (*(operator.index(g) for g in grid), 1, 1)[:3]
    block = (*(operator.index(b) for b in block), 1, 1)[:3]
    if min(*grid, *block) < 1 or any(g > limit for g, limit in zip(grid, _MAX_GRID)):
        raise ValueError(f"{name}: grid {grid} and block {block} must be positive, the grid at most {_MAX_GRID}")
    if block[0] * block[1] * block[2] > max_threads:
        raise ValueError(f"{name}: block {block} is over the kernel's limit of {max_threads} threads per block")
    if grid[2] != 1 or block[1:] != (1, 1):
        raise NotImplementedError(f"{name}: the CuPy emulation runs 1-D blocks in 1-D or 2-D grids only")
    return grid[0], grid[1], block[0]


def _c_argument(arg, parameter: _Parameter, where: str) -> tuple[type, object]:
    """(ctypes type, value) for one kernel argument, or the error a real launch would deserve."""
    if parameter.pointer:
        if not isinstance(arg, cupy.ndarray):
            raise TypeError(f"{where}: a {parameter.c_type}* needs a cupy.ndarray, got {_type_name(arg)}")
        if arg.dtype != parameter.dtype:
            raise TypeError(f"{where}: a {parameter.c_type}* needs {parameter.dtype} data, got {arg.dtype}")
        if not arg.flags.c_contiguous:
            raise ValueError(f"{where}: the kernel reads a pointer, so the array must be C-contiguous")
        if arg.ctypes.data % parameter.alignment:
            raise ValueError(f"{where}: a {parameter.c_type}* must be {parameter.alignment}-byte aligned")
        return ctypes.c_void_p, arg.ctypes.data
    if type(arg) is not parameter.dtype.type:
        # CuPy passes a scalar with the width of its own type, whatever the parameter says.
        raise TypeError(f"{where}: a {parameter.c_type} needs numpy.{parameter.dtype.name}, got {_type_name(arg)}")
    return np.ctypeslib.as_ctypes_type(parameter.dtype), arg.item()


def _type_name(value) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"
