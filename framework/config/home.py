"""Where raylane keeps its state by default: `$RAYLANE_HOME`, else `~/.raylane`."""

from __future__ import annotations

import os
from pathlib import Path


def raylane_home() -> Path:
    """The root of the embedded defaults (demo data, SQLite stores, tokens), created on first use."""
    home = Path(os.environ.get("RAYLANE_HOME") or Path.home() / ".raylane").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


STATE_ENV_VARS = ("RAYLANE_HOME", "MLFLOW_TRACKING_URI", "RAYLANE_AUDIT_LOG")


def state_env() -> dict[str, str]:
    """The settings that say where this process keeps its state (registry, audit log), for Ray
    processes that must read the same state: a Ray worker gets the environment of the cluster that
    started it, not of the driver that calls it."""
    env = {"RAYLANE_HOME": str(raylane_home().resolve())}
    env.update({name: os.environ[name] for name in STATE_ENV_VARS[1:] if os.environ.get(name)})
    return env
