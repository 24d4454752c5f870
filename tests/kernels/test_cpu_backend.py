"""Backend choice: RAYLANE_DEVICE parsing and the dispatch by array module."""

import numpy as np
import pytest

import kernels
from framework.errors import ConfigError
from kernels import backend


@pytest.mark.parametrize("value, expected", [(None, "auto"), ("cpu", "cpu"), (" GPU ", "gpu"), ("auto", "auto")])
def test_device_setting(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("RAYLANE_DEVICE", raising=False)
    else:
        monkeypatch.setenv("RAYLANE_DEVICE", value)
    assert backend.device_setting() == expected


def test_bad_device_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("RAYLANE_DEVICE", "tpu")
    with pytest.raises(ConfigError, match="RAYLANE_DEVICE"):
        backend.use_gpu()


def test_cpu_setting_never_uses_gpu(monkeypatch):
    monkeypatch.setenv("RAYLANE_DEVICE", "cpu")
    assert backend.use_gpu() is False


def test_gpu_setting_without_gpu_is_an_error(monkeypatch):
    monkeypatch.setenv("RAYLANE_DEVICE", "gpu")
    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    with pytest.raises(ConfigError, match="no GPU"):
        backend.use_gpu()


def test_auto_follows_availability(monkeypatch):
    monkeypatch.setenv("RAYLANE_DEVICE", "auto")
    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    assert backend.use_gpu() is False


def test_numpy_inputs_dispatch_to_cpu():
    assert backend.get_array_module(np.zeros(1), 3) is np
    assert kernels.backend_for(np.zeros(1), (np.zeros(2), np.zeros(1))).__name__ == "kernels.cpu"
    np.testing.assert_array_equal(kernels.bucketize(np.array([0.5]), np.array([1.0])), [1])
