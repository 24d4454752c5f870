"""The stall watchdog: a long job that makes no progress for `run.stall_timeout_s` ends with an error
naming the stage that stalled and what Ray reports as pending, instead of waiting forever.

Progress is anything the job reports: a training step (workers beat a `ProgressBeacon` actor, at most
every BEAT_EVERY_S), an epoch, a Tune trial result, a scored task. The watchdog runs in a thread of
the driver; when it fires it sends the main thread SIGINT (as Ctrl-C would: Ray Train and Tune then
stop their runs gracefully, keeping every checkpoint), and the `with` block raises `Stalled`. A
rerun resumes as usual.

Example:
    >>> with StallWatchdog("train", timeout_s=600, log=print) as watchdog:        # doctest: +SKIP
    ...     watchdog.stage("fitting the features")
    ...     fit_pipeline(...)
    ...     watchdog.stage("training", beacon=beacon)
    ...     result = trainer.fit()
    ...     watchdog.raise_if_stalled()   # a run that Ray stopped may still return
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from typing import Callable

from framework.errors import RaylaneError

__all__ = ["BEAT_EVERY_S", "ProgressBeacon", "Stalled", "StallWatchdog", "beat", "start_beacon"]

BEAT_EVERY_S = 5.0  # a worker tells the beacon at most this often that it made progress
_EXIT_GRACE_S = 120.0  # if the main thread ignores the interrupt this long, the process ends


class Stalled(RaylaneError):
    """No progress for run.stall_timeout_s."""

    exit_code = 1


class ProgressBeacon:
    """A counter that workers bump as they make progress (held by a zero-CPU Ray actor)."""

    def __init__(self):
        self.count = 0

    def beat(self, steps: int = 1) -> None:
        self.count += steps

    def read(self) -> int:
        return self.count


def start_beacon():
    """A fresh named beacon actor; returns (name, handle). Workers find it by name (`beat`)."""
    import ray

    name = f"raylane-progress-{uuid.uuid4().hex[:12]}"
    handle = ray.remote(num_cpus=0)(ProgressBeacon).options(name=name, lifetime=None).remote()
    return name, handle


_beacons: dict = {}  # name -> (handle, last beat time, steps not yet sent), per worker process


def beat(name: str | None, steps: int = 1) -> None:
    """Tell the named beacon about `steps` more steps, at most every BEAT_EVERY_S (fire and forget)."""
    if not name:
        return
    handle, last, unsent = _beacons.get(name, (None, 0.0, 0))
    unsent += steps
    now = time.monotonic()
    if now - last < BEAT_EVERY_S:
        _beacons[name] = (handle, last, unsent)
        return
    try:
        if handle is None:
            import ray

            handle = ray.get_actor(name)
        handle.beat.remote(unsent)
        _beacons[name] = (handle, now, 0)
    except Exception:  # noqa: BLE001 - progress reporting must never break training
        _beacons[name] = (handle, now, unsent)


def _beacon_reader(handle) -> Callable[[], int | None]:
    def read() -> int | None:
        import ray

        try:
            return ray.get(handle.read.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - an unreadable beacon is no progress, not an error
            return None

    return read


class StallWatchdog:
    """Ends the job when nothing progresses for `timeout_s` seconds (None or 0: off)."""

    def __init__(self, job: str, timeout_s: float | None, describe_pending: Callable[[], str] | None = None,
                 log: Callable[[str], None] | None = None, poll_s: float | None = None):
        from framework.capacity import pending_summary

        self.job, self.timeout_s = job, timeout_s
        self.describe_pending = describe_pending or pending_summary
        self.log = log
        self.poll_s = poll_s or (min(5.0, max(0.2, timeout_s / 10)) if timeout_s else 5.0)
        self.message: str | None = None
        self._stage, self._last = "starting", time.monotonic()
        self._reader: Callable[[], int | None] | None = None
        self._seen: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved_handler = None

    # -- what the job calls ------------------------------------------------------------------
    def stage(self, name: str, beacon=None) -> None:
        """A new stage starts (progress in itself); `beacon`: a ProgressBeacon handle its workers beat."""
        self._stage = name
        self._reader = _beacon_reader(beacon) if beacon is not None else None
        self._seen = None
        self.progress()

    def progress(self) -> None:
        self._last = time.monotonic()

    def raise_if_stalled(self) -> None:
        if self.message:
            raise Stalled(self.message)

    # -- the watching thread -----------------------------------------------------------------
    def __enter__(self) -> "StallWatchdog":
        if self.timeout_s and threading.current_thread() is threading.main_thread():
            # Ctrl-C raises KeyboardInterrupt here, whatever an earlier Ray Train run left installed (its handler
            # aborts *its* run); a Ray Train run inside installs its own, which then stops that run gracefully.
            self._saved_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
            self._thread = threading.Thread(target=self._watch, name=f"raylane-watchdog-{self.job}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        self._stop.set()
        if self._thread is not None:
            signal.signal(signal.SIGINT, self._saved_handler)
        if self.message and (exc_type is None or not issubclass(exc_type, Stalled)):
            raise Stalled(self.message) from None  # the interrupt (or what Ray made of it) becomes the error
        return False

    def _read_beacon(self) -> None:
        if self._reader is None:
            return
        count = self._reader()
        if count is not None and count != self._seen:
            self._seen = count
            self.progress()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._read_beacon()
            idle = time.monotonic() - self._last
            if idle >= self.timeout_s:
                self._fire(idle)
                return

    def _fire(self, idle: float) -> None:
        self.message = (
            f"{self.job}: no progress for {idle:.0f} s in stage '{self._stage}' (run.stall_timeout_s = "
            f"{self.timeout_s:g}); {self.describe_pending()}. Checkpoints and finished work are kept: "
            "rerun the same command to resume once the cluster has room"
        )
        if self.log:
            self.log(f"[{self.job}] stalled: {self.message}")
        # A real SIGINT to the main thread, as Ctrl-C: it also wakes a blocking system call there.
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        if not self._stop.wait(_EXIT_GRACE_S):
            print(f"raylane: {self.message} (the job did not stop when interrupted; exiting)", file=sys.stderr, flush=True)
            import os

            os._exit(Stalled.exit_code)
