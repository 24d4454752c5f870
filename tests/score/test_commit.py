"""The staging ledger, the atomic publish and `verify_run`, without Ray: a TaskScorer runs in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from framework.cli import main as cli_main
from framework.score import BundleScorer, read_committed, verify_run
from framework.score._commit import commit_run, exchange_directories
from framework.score._plan import plan_run, run_key
from framework.score._staging import StagingArea
from framework.score._worker import TaskScorer
from framework.score.run import _job

RUN_DATE = "2026-02-01"


@pytest.fixture()
def staged(world, tmp_path):
    """Two of the day's tasks scored in this process into a fresh staging area."""
    cfg = world.config(tmp_path / "scores")
    scorer = BundleScorer(world.bundle)
    plan = plan_run(cfg, scorer)
    area = StagingArea(tmp_path / "scores", RUN_DATE, run_key(cfg, plan, scorer.identity.sha256))
    assert area.resume() == {}
    worker = TaskScorer(_job(cfg, plan, scorer, area, "cpu"))
    entries = [worker.run(task) for task in plan.tasks[:2]]
    return area, plan, entries, scorer


def test_a_task_writes_chunks_then_its_ledger_entry(staged):
    area, plan, entries, scorer = staged
    entry = entries[0]
    assert entry["rows_in"] == entry["rows_scored"] == plan.tasks[0].rows == 5_000
    assert [f["rows"] for f in entry["files"]] == [1024, 1024, 1024, 1024, 904]
    assert json.loads((area.ledger / f"{entry['task']}.json").read_text()) == entry
    chunks = [pq.read_table(area.run / f["path"]) for f in entry["files"]]
    source = pq.read_table(plan.tasks[0].path)
    np.testing.assert_array_equal(np.concatenate([c["id"].to_numpy() for c in chunks]), source["id"].to_numpy())


def test_resume_keeps_intact_tasks_and_removes_what_a_crash_left(staged):
    area, plan, entries, _ = staged
    first, second = entries
    (area.run / second["files"][0]["path"]).unlink()  # a task whose file vanished is redone
    crash_leftover = area.run / f"part-{plan.tasks[2].name}-c0000.parquet"
    crash_leftover.write_bytes(b"half a file")  # a chunk of a task that never finished
    (area.run / ".tmp-in-flight").write_bytes(b"")
    done = StagingArea.at(area.root).resume()
    assert list(done) == [first["task"]]
    assert not crash_leftover.exists() and not (area.run / ".tmp-in-flight").exists()
    assert all((area.run / f["path"]).is_file() for f in first["files"])
    assert not (area.ledger / f"{second['task']}.json").exists()


def _manifest(entries) -> dict:
    rows = sum(e["rows_in"] for e in entries)
    return {
        "format": "raylane-scores", "run_key": "k", "model": {"name": "m", "version": "v"},
        "columns": {"id": "id"}, "rows": {"in": rows, "scored": rows, "rejected": 0},
        "files": [f for e in entries for f in e["files"]], "rejected_files": [],
    }


def test_commit_publishes_whole_and_replaces_an_existing_run(staged, tmp_path):
    area, _, entries, _ = staged
    final = tmp_path / "scores" / f"run_date={RUN_DATE}"
    final.mkdir(parents=True)
    (final / "old.parquet").write_bytes(b"the previous run")
    commit_run(area, final, _manifest(entries))
    assert not (final / "old.parquet").exists() and (final / "_SUCCESS").is_file()
    assert not area.root.exists() and not (tmp_path / "scores" / "_staging").exists()
    report = verify_run(final)
    assert report.ok, report.problems
    assert read_committed(final).num_rows == 10_000


def test_exchange_swaps_two_directories(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (first / "x").write_text("1")
    (second / "y").write_text("2")
    if not exchange_directories(first, second):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here; the two-rename fallback is used")
    assert (first / "y").read_text() == "2" and (second / "x").read_text() == "1"


def _tamper(final: Path, how: str) -> str:
    part = sorted(final.glob("part-*.parquet"))[0]
    if how == "changed file":
        data = bytearray(part.read_bytes())
        data[len(data) // 2] ^= 0xFF
        part.write_bytes(bytes(data))
        return "sha256 differs"
    if how == "unlisted file":
        (final / "part-stray.parquet").write_bytes(part.read_bytes())
        return "part-stray.parquet: not listed"
    if how == "missing file":
        part.unlink()
        return "listed in manifest.json but missing"
    (final / "_SUCCESS").unlink()
    return "not a committed run"


@pytest.mark.parametrize("how", ["changed file", "unlisted file", "missing file", "no _SUCCESS"])
def test_verify_trusts_only_intact_committed_runs(staged, tmp_path, capsys, how):
    area, _, entries, _ = staged
    final = tmp_path / "scores" / f"run_date={RUN_DATE}"
    commit_run(area, final, _manifest(entries))
    assert cli_main(["score", "--verify", str(final)]) == 0
    expected = _tamper(final, how)
    assert cli_main(["score", "--verify", str(final)]) == 1
    assert expected in capsys.readouterr().out
    if how == "no _SUCCESS":
        with pytest.raises(Exception, match="not a committed scoring run"):
            read_committed(final)


def test_verify_finds_an_id_scored_twice(staged, tmp_path):
    area, _, entries, _ = staged
    duplicated = dict(entries[1], files=entries[1]["files"] + entries[0]["files"][:1])
    manifest = _manifest([entries[0], duplicated])
    manifest["rows"] = {key: value + 1024 for key, value in manifest["rows"].items() if key != "rejected"} | {"rejected": 0}
    final = tmp_path / "scores" / f"run_date={RUN_DATE}"
    commit_run(area, final, manifest)
    report = verify_run(final)
    assert any("1,024 duplicate id(s)" in p for p in report.problems), report.problems
    assert os.path.isdir(final)
