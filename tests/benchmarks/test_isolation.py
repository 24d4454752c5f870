"""Benchmarks leave the user's state alone: registry, MLflow store, audit log, everything under RAYLANE_HOME.

A benchmark trains, sweeps and scores through the same code as a real job; on a team's machine
~/.raylane is a real registry. These tests check that every benchmark script runs inside
`private_raylane_home()`, and run one (score.py, the cheapest that writes: it audits and tracks every
scoring run) against a sentinel RAYLANE_HOME and ~/.raylane that must come out byte for byte the same.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from benchmarks._isolation import private_raylane_home

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted((REPO / "benchmarks").glob("[!_]*.py"))
SENTINEL_MTIME_NS = 1_577_836_800 * 10**9  # 2020-01-01: any write to an entry moves its mtime off this
# A RAYLANE_HOME as it looks after some use; what lies in it does not matter, only that nothing changes.
SENTINEL_FILES = {
    "mlflow/mlflow.db": b"SQLite format 3\x00 a user's registry",
    "mlflow/artifacts/1/0123abcd/artifacts/bundle/model_card.md": b"# ctr/1\n",
    "audit/audit.jsonl": b'{"action": "train", "model": {"name": "ctr", "version": "1"}}\n',
    "registry-cache/ctr/1/model.safetensors": bytes(range(256)),
    "ray/auth_token": b"0123456789abcdef\n",
}


def _entry_point(path: Path) -> ast.If:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) in ('__name__ == "__main__"', "__name__ == '__main__'"):
            return node
    raise AssertionError(f"{path.name}: no `if __name__ == \"__main__\":` block")


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.name)
def test_every_benchmark_runs_main_in_a_private_raylane_home(script):
    block = _entry_point(script)
    assert len(block.body) == 1 and isinstance(block.body[0], ast.With), ast.unparse(block)
    assert [ast.unparse(item.context_expr) for item in block.body[0].items] == ["private_raylane_home()"], ast.unparse(block)


@pytest.fixture()
def ray_not_started(monkeypatch):
    """The guard looks at `ray` only when it is imported; the suite's own cluster may be up."""
    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(is_initialized=lambda: False))


def test_private_raylane_home_replaces_and_restores_the_state_settings(monkeypatch, tmp_path, ray_not_started):
    monkeypatch.setenv("RAYLANE_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.team.example:5000")
    monkeypatch.delenv("RAYLANE_AUDIT_LOG", raising=False)
    with private_raylane_home() as home:
        assert os.environ["RAYLANE_HOME"] == str(home) and home.is_dir()
        assert "MLFLOW_TRACKING_URI" not in os.environ and "RAYLANE_AUDIT_LOG" not in os.environ
        (home / "audit").mkdir()
    assert not home.exists()
    assert os.environ["RAYLANE_HOME"] == str(tmp_path / "user")
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow.team.example:5000"
    assert "RAYLANE_AUDIT_LOG" not in os.environ


def test_private_raylane_home_refuses_a_ray_already_started(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(is_initialized=lambda: True))
    before = os.environ.get("RAYLANE_HOME")
    with pytest.raises(RuntimeError, match="before ray.init"):
        with private_raylane_home():
            pass
    assert os.environ.get("RAYLANE_HOME") == before


def _write_sentinel(root: Path) -> Path:
    for name, content in SENTINEL_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    for path in sorted([root, *root.rglob("*")], key=lambda p: len(p.parts), reverse=True):  # a directory after its entries
        os.utime(path, ns=(SENTINEL_MTIME_NS, SENTINEL_MTIME_NS))
    return root


def _tree_state(root: Path) -> dict[str, tuple]:
    """Every entry under root, root included: its mode, and a file's size, SHA-256 and mtime; a
    directory's mtime, which moves when an entry is added, removed or renamed."""
    state = {}
    for path in [root, *sorted(root.rglob("*"))]:
        stat = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        state[str(path.relative_to(root))] = (stat.st_mode, stat.st_size if digest else None, digest, stat.st_mtime_ns)
    return state


def _file_state(path: Path) -> tuple | None:
    return (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) if path.exists() else None


@pytest.mark.slow
def test_score_benchmark_leaves_raylane_home_untouched(tmp_path):
    user_home = _write_sentinel(tmp_path / "raylane_home")
    os_home = tmp_path / "home"
    _write_sentinel(os_home / ".raylane")  # where raylane goes when RAYLANE_HOME is unset
    before = {root: _tree_state(root) for root in (user_home, os_home / ".raylane")}
    measured = _file_state(REPO / "benchmarks" / "results" / "score.json")
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}  # a local Ray, as on a laptop
    env.update(
        HOME=str(os_home),
        RAYLANE_HOME=str(user_home),
        # both point into the sentinel, at a store that is not there: a write would create it
        MLFLOW_TRACKING_URI=f"sqlite:///{user_home / 'mlflow' / 'team.db'}",
        RAYLANE_AUDIT_LOG=str(user_home / "audit" / "team.jsonl"),
        RAYLANE_BENCHMARK_RESULTS=str(tmp_path / "results"),
    )
    command = [sys.executable, str(REPO / "benchmarks" / "score.py"), "--rows", "20000", "--files", "2", "--rounds", "1",
               "--train-rows", "20000", "--plain-threads", "1"]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "results" / "score.json").read_text())
    assert result["raylane"]["rows"] == result["plain"]["rows"] == 20_000
    for root, state in before.items():
        assert _tree_state(root) == state, f"the benchmark wrote under {root}"
    assert _file_state(REPO / "benchmarks" / "results" / "score.json") == measured, "the measured score.json was replaced"
