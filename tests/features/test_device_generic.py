"""The features layer is device-generic: every op, run through the GPU path on the emulated CuPy
(tests/fakes/cupy_emulation, which runs kernels/gpu/*.cu on host threads), gives the CPU's output.

This covers the pipeline code (ColumnFrame, ops, outputs, DLPack tensors) on machines without a GPU.
With a real GPU present the kernel-level GPU tests run on it instead, and this is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kernels.backend import gpu_available

REPO = Path(__file__).resolve().parents[2]
EMULATION = REPO / "tests" / "fakes" / "cupy_emulation"

_CHILD = textwrap.dedent(
    """
    import os
    from framework.features import FeaturePipeline
    from tests.features.tables import assert_tables_match, make_table
    from tests.features.test_conformance import CASES
    from tests.features.test_pipeline import CRITEO_LIKE

    table = make_table(3000)
    every_op = {"passthrough": ["id"], "id_column": "id", "ops": [op for name in sorted(CASES) for op in CASES[name][0]]}
    for mapping in (CRITEO_LIKE, every_op):
        outputs = {}
        for device in ("cpu", "gpu"):
            os.environ["RAYLANE_DEVICE"] = device
            pipeline = FeaturePipeline.from_yaml_dict(mapping)
            assert pipeline._settings().frame(table).xp.__name__ == {"cpu": "numpy", "gpu": "cupy"}[device]
            outputs[device] = (pipeline.fit_transform(table), pipeline.transform(table), pipeline.transform_to_tensors(table))
        for cpu, gpu in zip(outputs["cpu"][:2], outputs["gpu"][:2]):
            assert_tables_match(gpu, cpu, exact=False)
        for name, tensor in outputs["cpu"][2].items():
            assert (outputs["gpu"][2][name].cpu() == tensor).all() or name == "continuous", name
    print("DEVICE-GENERIC OK")
    """
)


@pytest.mark.slow
def test_every_op_on_the_emulated_gpu_matches_cpu():
    if shutil.which("g++") is None or not EMULATION.is_dir():
        pytest.skip("needs g++ and tests/fakes/cupy_emulation to emulate CuPy")
    if gpu_available():
        pytest.skip("a real GPU is present: the GPU tests run on it instead of the emulation")
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EMULATION), str(REPO), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", _CHILD], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "DEVICE-GENERIC OK" in done.stdout, done.stdout + done.stderr
