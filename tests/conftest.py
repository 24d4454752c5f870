"""Shared fixtures: one Ray cluster per test session, GPU tests skipped cleanly without a GPU."""

from __future__ import annotations

import os

import pytest

# Ray reads these at start-up; set them before anything imports ray.
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _gpu_present() -> bool:
    from kernels.backend import gpu_available

    return gpu_available()


def pytest_collection_modifyitems(config, items):
    if any("gpu" in item.keywords for item in items) and not _gpu_present():
        skip = pytest.mark.skip(reason="needs a CUDA device and CuPy")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for the whole session, sized for a 2-core machine."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(
            address="local",  # never attach to a head some earlier `ray start` recorded in /tmp/ray
            num_cpus=2,
            num_gpus=0,
            include_dashboard=False,
            object_store_memory=512 * 1024 * 1024,
            log_to_driver=False,
        )
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session", autouse=True)
def private_raylane_home(tmp_path_factory):
    """No test reads or writes the user's ~/.raylane (registry, audit log, tokens): a session-wide
    RAYLANE_HOME, which tests may narrow further with `raylane_home`."""
    saved = {key: os.environ.get(key) for key in ("RAYLANE_HOME", "MLFLOW_TRACKING_URI", "RAYLANE_AUDIT_LOG")}
    os.environ["RAYLANE_HOME"] = str(tmp_path_factory.mktemp("raylane-home"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("RAYLANE_AUDIT_LOG", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture()
def raylane_home(tmp_path, monkeypatch):
    """A private RAYLANE_HOME for tests that use the embedded defaults."""
    home = tmp_path / "raylane_home"
    monkeypatch.setenv("RAYLANE_HOME", str(home))
    return home
