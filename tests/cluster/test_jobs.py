"""Job submission without a cluster: entrypoints, the uploaded working_dir, address and token lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.cluster import (
    ClusterError,
    JobRequest,
    ensure_auth_token,
    entrypoint_for,
    read_auth_token,
    resolve_address,
    resolve_token,
    runtime_env_for,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def project(tmp_path):
    """A minimal project: jobs/train.py, a config, plus things that must not be uploaded."""
    root = tmp_path / "project"
    for relative in ["jobs/__init__.py", "jobs/train.py", "jobs/configs/small.yaml", "framework/data/io.py",
                     "data/train/part-0.parquet", ".venv/bin/python", ".git/HEAD", "runs/ctr/bundle/w.bin",
                     "framework/__pycache__/x.cpython-311.pyc"]:  # fmt: skip
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return root


def test_entrypoint_runs_the_job_module_with_a_project_relative_config(project, monkeypatch):
    monkeypatch.chdir(project)
    request = JobRequest("train", str(project / "jobs/configs/small.yaml"), ["optim.epochs=1", "run.name=a b"])
    assert entrypoint_for(request) == "python -m jobs.train jobs/configs/small.yaml optim.epochs=1 'run.name=a b'"


def test_missing_job_module_is_refused_clearly(project, monkeypatch):
    monkeypatch.chdir(project)
    with pytest.raises(ClusterError, match=r"job 'sweep' is not available: .*jobs/sweep.py does not exist"):
        entrypoint_for(JobRequest("sweep", "jobs/configs/small.yaml"))


def test_unknown_job_and_bad_override_are_refused():
    with pytest.raises(ClusterError, match="unknown job 'fit'"):
        JobRequest("fit", "c.yaml")
    with pytest.raises(ClusterError, match="key=value"):
        JobRequest("train", "c.yaml", ["epochs"])


def test_config_outside_the_project_is_refused(project, tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("x: 1")
    monkeypatch.chdir(project)
    with pytest.raises(ClusterError, match="outside the project"):
        entrypoint_for(JobRequest("train", str(outside)))


def test_working_dir_excludes_data_envs_outputs_and_git(project):
    """Checked with Ray's own matcher, the one `working_dir` packaging uses."""
    from ray._private.runtime_env.packaging import _dir_travel, _get_excludes

    env = runtime_env_for(JobRequest("train", "jobs/configs/small.yaml", working_dir=str(project)))
    assert env["working_dir"] == str(project)
    kept: list[Path] = []
    _dir_travel(project, [_get_excludes(project, env["excludes"])], kept.append, include_gitignore=False)
    kept = [p for p in kept if p.is_file()]
    assert sorted(p.relative_to(project).as_posix() for p in kept) == [
        "framework/data/io.py",  # the `framework.data` package stays: only the top-level data/ is skipped
        "jobs/__init__.py",
        "jobs/configs/small.yaml",
        "jobs/train.py",
    ]


def test_address_lookup_order(monkeypatch, raylane_home):
    for name in ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_address() == "http://127.0.0.1:8265"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")  # a GCS address is not a Jobs API URL
    assert resolve_address() == "http://127.0.0.1:8265"
    monkeypatch.setenv("RAY_ADDRESS", "http://head:8265/")
    assert resolve_address() == "http://head:8265"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "https://ray.example.com")
    assert resolve_address() == "https://ray.example.com"
    assert resolve_address("http://other:1") == "http://other:1"


def test_token_lookup_order(monkeypatch, raylane_home, tmp_path):
    for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_token() is None
    ours = read_auth_token(ensure_auth_token())
    assert resolve_token() == ours
    other = tmp_path / "other_token"
    other.write_text("from-path\n")
    other.chmod(0o600)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(other))
    assert resolve_token() == "from-path"
    monkeypatch.setenv("RAY_AUTH_TOKEN", "from-env")
    assert resolve_token() == "from-env"


def test_shipped_train_config_gives_the_documented_entrypoint(monkeypatch):
    monkeypatch.chdir(REPO)
    request = JobRequest("train", "jobs/configs/train_small.yaml", ["optim.epochs=1"])
    assert entrypoint_for(request) == "python -m jobs.train jobs/configs/train_small.yaml optim.epochs=1"
