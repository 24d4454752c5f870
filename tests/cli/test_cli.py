"""The CLI: --help on every subcommand, exit codes, no tracebacks on bad input, the demo."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from framework.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _command_paths(parser: argparse.ArgumentParser, prefix=()):
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _command_paths(sub, prefix + (name,))


COMMANDS = list(_command_paths(build_parser()))


def _run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "framework.cli", *args], capture_output=True, text=True, **kwargs)


def test_the_issue_commands_exist():
    names = {" ".join(c) for c in COMMANDS}
    assert {"demo", "validate", "data generate", "data check"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "raylane")
def test_help_on_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: raylane" in capsys.readouterr().out


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "raylane"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "generate synthetic data" in result.stdout


def test_usage_errors_exit_2():
    assert _run().returncode == 2
    assert _run("data", "generate", "--out", "x").returncode == 2  # --rows missing


def test_validate_ok_and_bad(tmp_path):
    demo = str(ROOT / "jobs" / "configs" / "demo.yaml")
    result = _run("validate", demo, "generate.rows=10")
    assert result.returncode == 0 and "valid demo config" in result.stdout
    result = _run("validate", demo, "generate.days=zero")
    assert result.returncode == 2
    assert "generate.days: got 'zero'" in result.stderr and "Traceback" not in result.stderr


def test_generate_bad_input_is_a_clear_error(tmp_path):
    result = _run("data", "generate", "--rows", "10", "--out", str(tmp_path / "d"), "--drift", "3")
    assert result.returncode == 2 and "drift: got 3.0" in result.stderr and "Traceback" not in result.stderr


def test_generate_then_check(tmp_path):
    out = tmp_path / "d"
    result = _run("data", "generate", "--rows", "5000", "--out", str(out), "--seed", "7", "--days", "2")
    assert result.returncode == 0, result.stderr
    assert "wrote 5,000 rows in 8 files" in result.stdout and "rows/s" in result.stderr
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["event_date=2026-01-01", "event_date=2026-01-02"]
    result = _run("data", "check", "--contract", str(out / "contract.yaml"), "--data", str(out))
    assert result.returncode == 0 and "ok: 8 file(s), 5,000 rows" in result.stdout


def _pii_values(home: Path) -> set[str]:
    import pyarrow.parquet as pq

    values = set()
    for path in (home / "demo" / "data").rglob("*.parquet"):
        values.update(v for v in pq.read_table(path, columns=["user_email"])["user_email"].to_pylist() if v)
    return values


def _leaks(path: Path, values: set[str]) -> set[str]:
    """Raw PII values found in one produced file: Parquet by its string columns, anything else by bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        table = pq.read_table(path)
        found = set()
        for column in table.columns:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                found.update(set(column.to_pylist()) & values)
        return found
    # the generator's addresses are user<N>@example.com: find every such string in one pass, then
    # keep the real ones (a scan per value would take minutes over the demo's files)
    found = {match.decode() for match in re.findall(rb"user[0-9]+@example\.com", path.read_bytes())}
    return found & values


def _assert_explained(bundle: Path, home: Path) -> None:
    """A trained bundle explains itself: explain.json sorted by importance, its chart, the card's table,
    and one MLflow metric per column on the run that registered it."""
    import json

    explanation = json.loads((bundle / "explain.json").read_text())
    importances = [c["importance"] for c in explanation["columns"]]
    assert explanation["metric"] == "auc" and importances == sorted(importances, reverse=True) and len(importances) > 10
    assert (bundle / "explain.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (bundle / "model_card.md").read_text()
    assert "## Feature importance" in card and f"| `{explanation['columns'][0]['column']}` |" in card
    env = {**os.environ, "RAYLANE_HOME": str(home)}
    code = ("import json; from framework.registry.store import mlflow_client; c = mlflow_client(); "
            "v = c.get_model_version('demo-ctr', '1'); m = c.get_run(v.run_id).data.metrics; "
            "print(json.dumps(sorted(k for k in m if k.startswith('importance.'))))")
    repo = Path(__file__).resolve().parents[2]
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=repo)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert len(json.loads(shown.stdout.strip().splitlines()[-1])) == len(importances)


@pytest.mark.ray
@pytest.mark.slow
def test_demo_runs_end_to_end_and_leaks_no_pii(raylane_home, ray_cluster):
    env = {**os.environ, "RAY_ADDRESS": ray_cluster.get_runtime_context().gcs_address, "RAYLANE_HOME": str(raylane_home)}
    overrides = ["generate.rows=30000", "generate.days=2", "valid_rows=8000", "train.overrides=[optim.epochs=1]",
                 "sweep.trials=2", "sweep.epochs=1", "drift.recent_rows=30000", "drift.day_rows=5000", "serve_port=8123"]
    result = _run("demo", *overrides, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert result.stdout.count("match contract 'criteo_synth'") == 2
    assert "bayes_auc" in result.stdout and "model AUC" in result.stdout and "vs Bayes AUC" in result.stdout
    assert "[sweep] best config:" in result.stdout
    assert "promoted demo-ctr/1 to @prod" in result.stdout
    assert "[demo] batch scores:" in result.stdout and "POST /v1/predict (1 row) -> 200" in result.stdout
    assert "decision:" in result.stdout and "drift breach(es)" in result.stdout
    assert "registry: demo-ctr versions" in result.stdout and "audit verify: ok" in result.stdout
    bundle = Path(result.stdout.strip().splitlines()[-1].split("bundle: ")[-1])
    assert (bundle / "model.safetensors").exists() and bundle.is_relative_to(raylane_home)
    assert (bundle / "profile.json").exists() and (bundle / "model_card.md").exists()
    _assert_explained(bundle, raylane_home)

    # PII: no raw user_email anywhere the demo wrote (its input data aside), the MLflow store included
    values = _pii_values(raylane_home)
    assert len(values) > 1000
    produced = [p for p in raylane_home.rglob("*") if p.is_file() and not p.is_relative_to(raylane_home / "demo" / "data")]
    assert any(p.name == "mlflow.db" for p in produced) and any(p.name == "drift.json" for p in produced)
    leaks = {str(p): found for p in produced if (found := _leaks(p, values))}
    assert not leaks, leaks
    assert not {v for v in values if v in output}, "PII in the demo's output"
