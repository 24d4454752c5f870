"""The stall watchdog: fires on a stage that makes no progress, within its timeout, naming the stage and
what is pending; progress (direct or through a beacon) keeps it quiet. No Ray here: the main thread's
blocking wait stands in for `trainer.fit()`."""

from __future__ import annotations

import threading
import time

import pytest

from framework.watchdog import ProgressBeacon, Stalled, StallWatchdog


def test_a_stalled_stage_ends_within_the_timeout_naming_stage_and_pending():
    started = time.monotonic()
    with pytest.raises(Stalled) as error:
        with StallWatchdog("score", timeout_s=1.0, describe_pending=lambda: "pending: 2 x {CPU: 1} (tasks/actors)") as dog:
            dog.stage("scoring tasks (Ray Data actor pool)")
            threading.Event().wait(30)  # blocks like ray.get: only the interrupt ends it
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0, elapsed
    message = str(error.value)
    assert "score: no progress for 1 s in stage 'scoring tasks (Ray Data actor pool)'" in message
    assert "run.stall_timeout_s = 1" in message and "pending: 2 x {CPU: 1} (tasks/actors)" in message


def test_progress_keeps_a_slow_job_alive():
    with StallWatchdog("train", timeout_s=0.6, describe_pending=lambda: "") as dog:
        for _ in range(12):  # 2.4 s in all, never 0.6 s without progress
            time.sleep(0.2)
            dog.progress()
    assert dog.message is None


def test_a_beacon_that_keeps_counting_is_progress(monkeypatch):
    beacon = ProgressBeacon()
    monkeypatch.setattr("framework.watchdog._beacon_reader", lambda handle: handle.read)
    with StallWatchdog("train", timeout_s=0.6, describe_pending=lambda: "") as dog:
        dog.stage("training", beacon=beacon)
        for _ in range(12):
            time.sleep(0.2)
            beacon.beat()
    assert dog.message is None
    with pytest.raises(Stalled, match="stage 'training'"):
        with StallWatchdog("train", timeout_s=0.6, describe_pending=lambda: "") as dog:
            dog.stage("training", beacon=beacon)  # the count stops moving
            threading.Event().wait(30)


def test_off_when_no_timeout():
    with StallWatchdog("train", timeout_s=None) as dog:
        time.sleep(0.1)
    assert dog._thread is None


def test_an_earlier_sigint_handler_does_not_swallow_the_watchdog(monkeypatch):
    """A finished Ray Train run leaves its SIGINT handler installed (it aborts that run's controller and
    returns); the watchdog must still end the stage it guards."""
    import signal

    calls = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with pytest.raises(Stalled):
            with StallWatchdog("score", timeout_s=0.5, describe_pending=lambda: "") as dog:
                dog.stage("scoring")
                threading.Event().wait(30)
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler and not calls  # restored, not called
    finally:
        signal.signal(signal.SIGINT, previous)
