"""One shared thread pool for the CPU twins: independent columns run side by side.

NumPy ufuncs and Arrow compute release the GIL on large arrays, so columns processed in threads use
every core. Each item writes only its own output, so results do not depend on scheduling.

Example:
    >>> parallel_map(lambda x: x * 2, [1, 2, 3])
    [2, 4, 6]
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable, Iterable, TypeVar

__all__ = ["parallel_map", "worker_count"]

_PARALLEL_MIN_ROWS = 1 << 16  # below this many rows per item, thread hand-offs cost more than they save
_THREAD_PREFIX = "raylane-cpu"
T = TypeVar("T")
R = TypeVar("R")


def worker_count() -> int:
    """Threads to use: RAYLANE_CPU_THREADS if set, else the cores this process may run on."""
    configured = os.environ.get("RAYLANE_CPU_THREADS")
    if configured:
        return max(1, int(configured))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@lru_cache(maxsize=None)
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=_THREAD_PREFIX)


def parallel_map(fn: Callable[[T], R], items: Iterable[T], rows: int | None = None) -> list[R]:
    """[fn(item) for item in items], in order, spread over the pool when there is more than one item
    and each item covers at least _PARALLEL_MIN_ROWS `rows` (when given)."""
    items = list(items)
    workers = min(worker_count(), len(items)) if rows is None or rows >= _PARALLEL_MIN_ROWS else 1
    # A pool thread waiting on tasks queued behind it could deadlock the pool: nest sequentially.
    if workers <= 1 or threading.current_thread().name.startswith(_THREAD_PREFIX):
        return [fn(item) for item in items]
    return list(_pool(workers).map(fn, items))
