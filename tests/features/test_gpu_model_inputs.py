"""On a real GPU, the arrays training and scoring read (`transform_to_arrays`, `model_inputs`) are host
NumPy arrays equal to the CPU path's, and `transform_to_tensors` stays on the device.

The CuPy emulation cannot catch a device array leaking into NumPy code (its arrays are NumPy
subclasses), so this runs only where CuPy sees a device.
"""

from __future__ import annotations

import numpy as np
import pytest

from framework.features import FeaturePipeline
from framework.models.inputs import model_inputs
from kernels.backend import gpu_available
from tests.features.tables import make_table
from tests.features.test_pipeline import CRITEO_LIKE

pytest.importorskip("cupy")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not gpu_available(), reason="needs a CUDA device")]


def _on(device: str, monkeypatch, fn):
    monkeypatch.setenv("RAYLANE_DEVICE", device)
    return fn()


@pytest.fixture(scope="module")
def fitted():
    table = make_table(5000)
    return FeaturePipeline.from_yaml_dict(CRITEO_LIKE).fit(table), table


@pytest.mark.parametrize("out_of_fold", [False, True])
def test_transform_to_arrays_on_the_gpu_is_host_numpy_equal_to_cpu(fitted, monkeypatch, out_of_fold):
    pipeline, table = fitted
    cpu = _on("cpu", monkeypatch, lambda: pipeline.transform_to_arrays(table, out_of_fold=out_of_fold))
    gpu = _on("gpu", monkeypatch, lambda: pipeline.transform_to_arrays(table, out_of_fold=out_of_fold))
    assert set(gpu) == set(cpu)
    for name, expected in cpu.items():
        assert type(gpu[name]) is np.ndarray, f"{name}: {type(gpu[name])}"
        assert gpu[name].dtype == expected.dtype and gpu[name].shape == expected.shape, name
    np.testing.assert_array_equal(gpu["categorical"], cpu["categorical"])
    np.testing.assert_allclose(gpu["continuous"], cpu["continuous"], rtol=1e-6, atol=1e-7, equal_nan=True)


def test_model_inputs_on_the_gpu_equal_cpu(fitted, monkeypatch):
    pipeline, table = fitted
    cpu = _on("cpu", monkeypatch, lambda: model_inputs(pipeline, table))
    gpu = _on("gpu", monkeypatch, lambda: model_inputs(pipeline, table))
    np.testing.assert_array_equal(gpu["categorical"], cpu["categorical"])
    np.testing.assert_allclose(gpu["continuous"], cpu["continuous"], rtol=1e-6, atol=1e-7)


def test_transform_to_tensors_on_the_gpu_stays_on_the_device(fitted, monkeypatch):
    pipeline, table = fitted
    tensors = _on("gpu", monkeypatch, lambda: pipeline.transform_to_tensors(table))
    assert tensors["continuous"].is_cuda and tensors["categorical"].is_cuda
