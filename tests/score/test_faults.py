"""Exactly once under failure: a scoring actor SIGKILLed mid-run, and the driver SIGKILLed mid-write
and rerun. The reference is an uninterrupted run with the same settings (the session's `committed`
fixture): the same files, with the same bytes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
import yaml

from framework.score import read_committed, run_scoring, verify_run

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ACTOR_CLASS = "MapWorker(MapBatches(TaskScorer))"


def _ledger(output: Path) -> list[Path]:
    return sorted(output.glob("_staging/run_date=*/*/ledger/*.json"))


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _scoring_actors(ray) -> dict:
    from ray._private import state

    return {a["ActorID"]: a for a in state.actors().values() if a["ActorClassName"] == ACTOR_CLASS}


def _assert_exactly_once(world, run_dir: Path, committed) -> None:
    report = verify_run(run_dir)
    assert report.ok, report.problems
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["files"] == committed.manifest["files"]  # names, rows and sha256 of every file
    ids = read_committed(run_dir, columns=["id"])["id"]
    assert len(ids) == world.rows == pc.count_distinct(ids).as_py()
    np.testing.assert_array_equal(np.sort(ids.to_numpy()), np.sort(world.input_table()["id"].to_numpy()))


def test_a_scoring_actor_killed_mid_run_still_gives_exactly_once(world, ray_cluster, committed, tmp_path):
    output = tmp_path / "scores"
    outcome: dict = {}

    def score() -> None:
        try:
            outcome["result"] = run_scoring(world.config(output, pool={"actors": 1}))
        except BaseException as error:  # noqa: BLE001 - handed to the test thread, which re-raises it
            outcome["error"] = error

    thread = threading.Thread(target=score)
    thread.start()
    _wait_for(lambda: _ledger(output), 120, "the first finished task")
    alive = _wait_for(lambda: [a for a in _scoring_actors(ray_cluster).values() if a["State"] == "ALIVE"], 30, "the actor")
    finished_before_kill = len(_ledger(output))
    os.kill(alive[0]["Pid"], signal.SIGKILL)
    thread.join(180)
    assert not thread.is_alive(), "scoring did not finish after the kill"
    if "error" in outcome:
        raise outcome["error"]
    assert finished_before_kill < 8, "the run ended before the kill could interrupt it"
    restarted = _scoring_actors(ray_cluster)[alive[0]["ActorID"]]
    assert restarted["NumRestarts"] >= 1, "the killed actor was not restarted"
    _assert_exactly_once(world, outcome["result"].run_dir, committed)


def _driver(world, output: Path, config_file: Path, ray_cluster, **overrides) -> subprocess.Popen:
    config = world.config(output, **overrides).model_dump(mode="json")
    config_file.write_text(yaml.safe_dump(config))
    env = {**os.environ, "RAY_ADDRESS": ray_cluster.get_runtime_context().gcs_address, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "jobs.score", str(config_file)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_driver_killed_mid_write_then_rerun(world, ray_cluster, committed, tmp_path):
    output = tmp_path / "scores"
    # An older committed run to be replaced: the reference's files under a manifest that says "older".
    older = output / committed.run_dir.name
    shutil.copytree(committed.run_dir, older)
    manifest = json.loads((older / "manifest.json").read_text())
    (older / "manifest.json").write_text(json.dumps({**manifest, "run_key": "older"}))
    older_manifest = (older / "manifest.json").read_text()

    driver = _driver(world, output, tmp_path / "score.yaml", ray_cluster, pool={"actors": 1})
    try:
        _wait_for(lambda: _ledger(output) or driver.poll() is not None, 180, "the first finished task")
        assert driver.poll() is None, f"the driver ended early: {driver.stderr.read().decode()[-2000:]}"
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(30)
    time.sleep(1.0)  # the job's actors die with their driver

    # Nothing new was published: the older committed run is intact and still the one readers see.
    assert (older / "manifest.json").read_text() == older_manifest and verify_run(older).ok
    staged = len(_ledger(output))
    assert 1 <= staged < 8, f"{staged} of 8 tasks staged at the kill"

    rerun = run_scoring(world.config(output))
    assert rerun.tasks_skipped >= 1, "the rerun scored again what the ledger held"
    _assert_exactly_once(world, rerun.run_dir, committed)
    assert json.loads((older / "manifest.json").read_text())["run_key"] == committed.manifest["run_key"]
    assert not _ledger(output)
