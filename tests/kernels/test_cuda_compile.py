"""Every CUDA source in kernels/gpu compiles on its own with nvcc (skipped where nvcc is absent).

This needs no GPU: it catches syntax and type errors in the `.cu` files on any machine with the CUDA
toolkit. At run time the same files go through NVRTC (`kernels/gpu/_runtime.py`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE_DIR = Path(__file__).resolve().parents[2] / "kernels" / "gpu"
SOURCES = sorted(SOURCE_DIR.glob("*.cu"))
NVCC = shutil.which("nvcc")


def test_there_are_cuda_sources():
    assert SOURCES, f"no .cu files found in {SOURCE_DIR}"


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not installed")
@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_cuda_source_compiles(source: Path, tmp_path: Path):
    # One architecture keeps it fast; sm_80 has every atomic the kernels use (double atomicAdd needs sm_60).
    command = [NVCC, "--std=c++17", "-arch=sm_80", "-Wno-deprecated-gpu-targets",
               "-c", "-o", str(tmp_path / f"{source.stem}.o"), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
