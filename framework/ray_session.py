"""Connecting to Ray: the one place raylane calls `ray.init`.

Without `RAY_ADDRESS`, a local in-process cluster starts (the embedded default); with it, the job
joins that cluster. Inside a Ray job (`ray job submit`, `raylane submit`) Ray sets it for us.
Ray's own log lines go where `framework.console` says (a log file, unless verbose).
"""

from __future__ import annotations

import os

__all__ = ["ensure_ray"]


def ensure_ray(address: str | None = None):
    """Initialise Ray once per process and return the module."""
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    # Ray Train copies every print of a worker to its logger (stderr): each line would show twice.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    import ray

    if not ray.is_initialized():
        # "local" starts a fresh cluster instead of attaching to whatever /tmp/ray last recorded,
        # which may be a stopped head; a real cluster is always named explicitly.
        target = address or os.environ.get("RAY_ADDRESS") or "local"
        ray.init(address=target, include_dashboard=False if target == "local" else None, log_to_driver=True)
        from framework.console import Console

        Console.after_ray_init()  # Ray's own output to the log file, raylane's to the terminal
        from ray.data import DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.execution_options.preserve_order = True  # same config and seed → same batches
    return ray
