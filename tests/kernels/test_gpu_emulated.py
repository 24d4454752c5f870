"""The GPU tests on an emulated CuPy, so the CUDA kernels are covered on machines without a GPU.

`tests/fakes/cupy_emulation` is a fake `cupy` that compiles kernels/gpu/*.cu with g++ and runs them
on host threads, checking every launch (its docstring says what it does not emulate). It goes on
PYTHONPATH of a child pytest only, so this process never imports it. With a real GPU present,
test_gpu_matches_cpu.py runs on it directly and the emulated run is skipped.

Run by hand:
    PYTHONPATH=tests/fakes/cupy_emulation python -m pytest -q tests/kernels/test_gpu_matches_cpu.py
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kernels.backend import gpu_available

REPO = Path(__file__).resolve().parents[2]
EMULATION = REPO / "tests" / "fakes" / "cupy_emulation"
GPU_TESTS = "tests/kernels/test_gpu_matches_cpu.py"
# The child takes 15-35 s on two cores, about 10 s more when the kernels compile. A kernel that
# reaches __syncthreads on only some threads hangs it: fail with its output instead of waiting.
TIMEOUT_S = 600
SUMMARY = re.compile(r"(\d+) (passed|failed|error|skipped|xfailed|xpassed|deselected)s?\b")


def emulated_env() -> dict[str, str]:
    """This environment, with the fake first on PYTHONPATH and no PYTEST_ADDOPTS to reshape the run."""
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EMULATION), os.environ.get("PYTHONPATH")]))
    return env


def run_child(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, *args]
    try:
        return subprocess.run(command, cwd=REPO, env=emulated_env(), capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        output = error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout or ""
        pytest.fail(f"{' '.join(command)} ran past {TIMEOUT_S} s (a deadlocked kernel?):\n{output}", pytrace=False)


def outcome_counts(output: str) -> dict[str, int]:
    """{"passed": 151, ...} from pytest's final summary line ("151 passed, 20 warnings in 17.7s")."""
    lines = [line for line in output.splitlines() if re.search(r" in [\d.]+s\b", line)]
    if not lines:
        return {}
    return {outcome: int(count) for count, outcome in SUMMARY.findall(lines[-1])}


def test_fake_cupy_is_not_importable_by_default():
    """Only a process that asks for the fake gets it: here `cupy` is the real one or absent."""
    spec = importlib.util.find_spec("cupy")
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    assert origin is None or EMULATION not in origin.parents, origin


def test_child_imports_the_fake_cupy():
    """The child's PYTHONPATH puts the fake first, so its results are the emulation's."""
    result = run_child("-c", "import cupy; print(cupy.__file__)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert EMULATION in Path(result.stdout.strip()).parents, result.stdout


@pytest.mark.slow
def test_gpu_tests_pass_on_emulated_cupy():
    """Every GPU test runs and passes: none fails, errors or is skipped."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed: the CuPy emulation compiles the CUDA sources with it")
    if gpu_available():
        pytest.skip(f"a real GPU is present: {GPU_TESTS} runs on it instead of the emulation")
    result = run_child("-m", "pytest", "-q", "-p", "no:cacheprovider", GPU_TESTS)
    output = result.stdout + result.stderr
    counts = outcome_counts(result.stdout)
    unclean = {outcome: counts.get(outcome, 0) for outcome in ("failed", "error", "skipped", "xfailed", "xpassed")}
    assert result.returncode == 0 and counts.get("passed", 0) > 0 and not any(unclean.values()), (
        f"{GPU_TESTS} on the emulated CuPy: exit code {result.returncode}, {counts or 'no test outcomes'}\n{output}"
    )
