"""What a benchmark result is tied to: the machine it was measured on."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
RESULTS_ENV = "RAYLANE_BENCHMARK_RESULTS"  # another directory for the JSON (a test's run must not replace the measured files)


def describe_machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_result(name: str, payload: dict) -> Path:
    """results/<name>.json, or <$RAYLANE_BENCHMARK_RESULTS>/<name>.json when that is set."""
    results = Path(os.environ.get(RESULTS_ENV) or RESULTS)
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.json"
    path.write_text(json.dumps({"machine": describe_machine(), **payload}, indent=2) + "\n")
    return path


def write_device_result(name: str, device: str, payload: dict) -> Path:
    """`write_result` for a measurement tied to an accelerator: results/<name>-<device, as a slug>.json."""
    return write_result(f"{name}-{re.sub(r'[^A-Za-z0-9]+', '-', device).strip('-').lower()}", payload)
