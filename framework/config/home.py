"""Where raylane keeps its state by default: `$RAYLANE_HOME`, else `~/.raylane`."""

from __future__ import annotations

import os
from pathlib import Path


def raylane_home() -> Path:
    """The root of the embedded defaults (demo data, SQLite stores, tokens), created on first use."""
    home = Path(os.environ.get("RAYLANE_HOME") or Path.home() / ".raylane").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
