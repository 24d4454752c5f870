"""A benchmark keeps its state apart from the user's: a temporary RAYLANE_HOME for the whole run.

Benchmarks train, sweep and score through the same code as real jobs, so without this a run adds
versions to the user's registry (train_small.yaml registers `ctr` as @candidate), runs to their MLflow
store and records to their audit log. Every benchmark script runs its `main` inside
`private_raylane_home()`; tests/benchmarks/test_isolation.py checks that they all do.

Example:
    >>> with private_raylane_home() as home:                                   # doctest: +SKIP
    ...     run_training(cfg)  # registers under home/mlflow, audits to home/audit/audit.jsonl
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from framework.config.home import STATE_ENV_VARS

__all__ = ["private_raylane_home"]


@contextlib.contextmanager
def private_raylane_home() -> Iterator[Path]:
    """Point RAYLANE_HOME at a new temporary directory for the block, with MLFLOW_TRACKING_URI and
    RAYLANE_AUDIT_LOG unset (either would send runs or records past it, to a team's MLflow server, say);
    restore all three and delete the directory afterwards.

    Enter it before Ray starts: a local cluster's workers keep the environment of the process that
    started the cluster, and a benchmark's Serve server, started as a subprocess, inherits it too.
    """
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        raise RuntimeError("private_raylane_home: enter it before ray.init, or Ray's workers keep the user's RAYLANE_HOME")
    saved = {name: os.environ.pop(name, None) for name in STATE_ENV_VARS}
    home = Path(tempfile.mkdtemp(prefix="raylane-bench-home-"))
    os.environ["RAYLANE_HOME"] = str(home)
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(home, ignore_errors=True)
