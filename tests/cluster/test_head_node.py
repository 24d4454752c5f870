"""Against a real head node on loopback with token auth (see conftest.py): auth, status, submission."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.conftest import REPO, bundle_from, raylane, train_overrides

pytestmark = pytest.mark.slow


def test_jobs_api_refuses_missing_and_wrong_tokens(ray_head):
    from framework.cluster import ClusterError, http_status, jobs_client

    jobs = f"{ray_head.url}/api/jobs/"
    assert http_status(jobs, None) == 401
    assert http_status(jobs, "0" * 64) == 403
    assert http_status(jobs, ray_head.token) == 200
    with pytest.raises(ClusterError, match="rejected the auth token"):
        jobs_client(ray_head.url, token="wrong")


def test_dashboard_answers_on_loopback_but_not_on_the_machines_address(ray_head):
    from framework.cluster import http_status

    node_ip = ray_head.gcs_address.rsplit(":", 1)[0]
    port = ray_head.url.rsplit(":", 1)[1]
    assert http_status(f"http://127.0.0.1:{port}/api/jobs/", ray_head.token) == 200
    if node_ip.startswith("127."):
        pytest.skip("this machine has no address beyond loopback")
    assert http_status(f"http://{node_ip}:{port}/api/jobs/", ray_head.token, timeout=3) == 0  # connection refused


def test_token_file_is_private(ray_head):
    assert ray_head.token_path == ray_head.home / "ray" / "auth_token"
    assert oct(ray_head.token_path.stat().st_mode & 0o777) == "0o600"


def test_cluster_status_shows_nodes_resources_and_jobs(ray_head):
    result = raylane(ray_head, "cluster", "status", "--address", ray_head.url, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "1 alive" in result.stdout or "2 alive" in result.stdout
    assert "CPU 2" in result.stdout and "trainer_slot 1" in result.stdout
    assert "jobs running or pending:" in result.stdout


def test_raylane_submit_trains_and_writes_a_bundle(ray_head, train_data, tmp_path):
    overrides = train_overrides(train_data, tmp_path / "runs", "submitted")
    result = raylane(ray_head, "submit", "train", "jobs/configs/train_small.yaml", *overrides, "--address", ray_head.url)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    bundle = bundle_from(result.stdout)
    assert bundle.is_dir() and any(bundle.iterdir()), bundle
    assert bundle.is_relative_to(tmp_path / "runs")

    submission_id = result.stderr.split("submitted ", 1)[1].split(":", 1)[0]
    listing = raylane(ray_head, "jobs", "list", "--address", ray_head.url, timeout=60)
    assert submission_id in listing.stdout and "SUCCEEDED" in listing.stdout
    logs = raylane(ray_head, "jobs", "logs", submission_id, "--address", ray_head.url, timeout=60)
    assert bundle_from(logs.stdout) == bundle
    unknown = raylane(ray_head, "jobs", "logs", "raylane-train-nope", "--address", ray_head.url, timeout=60)
    assert unknown.returncode == 1 and "error:" in unknown.stderr and "Traceback" not in unknown.stderr


def test_ray_job_submit_cli_trains_against_the_same_head(ray_head, train_data, tmp_path):
    """The plain Ray CLI, as the README shows it: token from RAY_AUTH_TOKEN_PATH, project as working_dir."""
    overrides = train_overrides(train_data, tmp_path / "runs", "ray-cli")
    command = [str(Path(sys.executable).parent / "ray"), "job", "submit", "--working-dir", ".", "--",
               "python", "-m", "jobs.train", "jobs/configs/train_small.yaml", *overrides]  # fmt: skip
    env = ray_head.env(
        RAY_API_SERVER_ADDRESS=ray_head.url, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(ray_head.token_path)
    )
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    bundle = bundle_from(result.stdout)
    assert bundle.is_dir() and any(bundle.iterdir()), bundle
