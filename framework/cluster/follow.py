"""Following a submitted job: stream its logs until it ends, then report its final status.

Example:
    >>> status = follow_job(client, "raylane-train-1a2b3c4d", sys.stdout.write)
    >>> status.value
    'SUCCEEDED'
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

__all__ = ["follow_job", "wait_for_job", "exit_code_for"]


async def _stream(client, submission_id: str, write: Callable[[str], object]) -> None:
    async for chunk in client.tail_job_logs(submission_id):
        write(chunk)


def wait_for_job(client, submission_id: str, timeout_s: float | None = None, poll_s: float = 1.0):
    """Poll until the job reaches a terminal status; returns the `JobStatus`."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        status = client.get_job_status(submission_id)
        if status.is_terminal():
            return status
        if deadline is not None and time.monotonic() > deadline:
            return status
        time.sleep(poll_s)


def follow_job(client, submission_id: str, write: Callable[[str], object]):
    """Stream the job's logs through `write` until it ends; returns its terminal `JobStatus`."""
    asyncio.run(_stream(client, submission_id, write))
    # The log stream closes when the driver exits; the status can lag a moment behind.
    return wait_for_job(client, submission_id)


def exit_code_for(status) -> int:
    """0 when the job succeeded, 1 otherwise (like `ray job submit`)."""
    return 0 if str(status) == "SUCCEEDED" else 1
