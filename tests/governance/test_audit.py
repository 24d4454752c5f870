"""The audit log: hash-chained records, and `verify` naming the first edited, removed or reordered line."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from framework.errors import ConfigError
from framework.governance import AuditLog


@pytest.fixture()
def log(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.append("train", "ok", model={"name": "ctr", "version": "1"}, config_hash="c" * 64, data_hash="d" * 64)
    audit.append("promote", "ok", model={"name": "ctr", "version": "1"}, details={"alias": "prod"})
    audit.append("score", "ok", model={"name": "ctr", "version": "1"}, data_hash="e" * 64, details={"rows": 10})
    audit.append("train", "ok", model={"name": "ctr", "version": "2"}, config_hash="f" * 64)
    return audit


def _lines(audit: AuditLog) -> list[str]:
    return audit.path.read_text().splitlines()


def _write(audit: AuditLog, lines: list[str]) -> None:
    audit.path.write_text("".join(line + "\n" for line in lines))


def test_records_chain_by_sha256_of_the_previous_record(log):
    records = [json.loads(line) for line in _lines(log)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert records[0]["prev"] == "0" * 64
    for before, after in zip(records, records[1:]):
        body = {k: v for k, v in before.items() if k != "hash"}
        expected = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        assert before["hash"] == expected and after["prev"] == expected
    first = records[0]
    assert first["who"] and first["time"].endswith("+00:00") and "git_commit" in first["code_version"]
    assert log.verify().ok and log.verify().records == 4


def test_an_edited_record_is_named(log):
    lines = _lines(log)
    lines[2] = lines[2].replace('"rows":10', '"rows":11')
    _write(log, lines)
    result = log.verify()
    assert not result.ok and result.first_bad_line == 3 and "edited" in result.reason


def test_a_removed_record_is_named(log):
    lines = _lines(log)
    del lines[1]
    _write(log, lines)
    result = log.verify()
    assert not result.ok and result.first_bad_line == 2


def test_reordered_records_are_named(log):
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _write(log, lines)
    result = log.verify()
    assert not result.ok and result.first_bad_line == 2


def test_a_removed_last_record_is_caught_by_the_head(log):
    _write(log, _lines(log)[:-1])
    result = log.verify()
    assert not result.ok and result.first_bad_line == 4 and "removed from the end" in result.reason


def test_a_rehashed_edit_still_breaks_the_chain(log):
    """Recomputing the edited record's own hash is not enough: the next record's prev no longer matches."""
    from framework.governance.audit import record_hash

    lines = _lines(log)
    record = json.loads(lines[0])
    record["who"] = "someone-else"
    record["hash"] = record_hash(record)
    lines[0] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    _write(log, lines)
    result = log.verify()
    assert not result.ok and result.first_bad_line == 2


def test_concurrent_appends_keep_one_chain(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: audit.append("score", "ok", details={"i": i}), range(40)))
    assert audit.verify().ok and audit.verify().records == 40


def test_history_of_a_model(log):
    history = log.history("ctr", "1")
    assert [r["action"] for r in history] == ["train", "promote", "score"]
    assert log.history("ctr", "9") == []


def test_unknown_action_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="expected one of"):
        AuditLog(tmp_path / "a.jsonl").append("delete", "ok")


def test_identity_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYLANE_IDENTITY", "svc-nightly")
    assert AuditLog(tmp_path / "a.jsonl").append("nightly", "kept")["who"] == "svc-nightly"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "framework.cli", "audit", *args], capture_output=True, text=True)


def test_cli_verify_and_show(log):
    ok = _cli("verify", "--log", str(log.path))
    assert ok.returncode == 0 and "4 records" in ok.stdout
    shown = _cli("show", "--model", "ctr/1", "--log", str(log.path))
    assert shown.returncode == 0 and shown.stdout.count("ctr/1") == 3
    lines = _lines(log)
    _write(log, [lines[0], lines[2], lines[3]])
    bad = _cli("verify", "--log", str(log.path))
    assert bad.returncode == 1 and "line 2" in bad.stderr and "Traceback" not in bad.stderr
    assert _cli("show", "--model", "ctr", "--log", str(log.path)).returncode == 2
