"""The cluster commands' clean failures, without a cluster: one message, non-zero exit, no traceback."""

from __future__ import annotations

import os

import pytest

from framework.cli import main

NOBODY = "http://127.0.0.1:1"  # nothing listens on port 1


@pytest.fixture(autouse=True)
def _no_stray_ray_settings(monkeypatch, raylane_home):
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_submit_refuses_a_project_without_the_job_module(tmp_path, capsys):
    config = tmp_path / "sweep.yaml"
    config.write_text("base: train.yaml\n")
    assert main(["submit", "sweep", str(config), "--working-dir", str(tmp_path), "--address", NOBODY]) == 1
    assert "job 'sweep' is not available" in capsys.readouterr().err


def test_submit_checks_the_config_against_the_job_kind(capsys):
    assert main(["submit", "sweep", "jobs/configs/train_small.yaml", "--address", NOBODY]) == 2
    err = capsys.readouterr().err
    assert "space: required field is missing" in err and "cannot reach" not in err


def test_submit_checks_the_config_before_connecting(capsys):
    assert main(["submit", "train", "jobs/configs/train_small.yaml", "optim.epochs=zero", "--address", NOBODY]) == 2
    assert "optim.epochs" in capsys.readouterr().err


def test_submit_without_a_cluster_says_so(capsys):
    assert main(["submit", "train", "jobs/configs/train_small.yaml", "--address", NOBODY]) == 1
    assert "cannot reach the Ray Jobs API at http://127.0.0.1:1" in capsys.readouterr().err


def test_down_without_a_head_says_so(capsys):
    assert main(["cluster", "down"]) == 1
    assert "no head started by raylane is running" in capsys.readouterr().err


def test_status_without_a_head_says_so(capsys):
    assert main(["cluster", "status", "--address", NOBODY]) == 1
    assert "no Ray dashboard answers" in capsys.readouterr().err


def test_jobs_list_without_a_cluster_says_so(capsys):
    assert main(["jobs", "list", "--address", NOBODY]) == 1
    assert "cannot reach the Ray Jobs API" in capsys.readouterr().err


def test_token_command_creates_a_private_token_once(capsys, raylane_home):
    assert main(["cluster", "token"]) == 0
    path = capsys.readouterr().out.strip()
    assert path == str(raylane_home / "ray" / "auth_token")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("given, named", [("bogus", "'bogus'"), ("train,servve", "'servve'"), (",", "','")])
def test_up_refuses_an_unknown_workload_class_before_starting_anything(given, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["cluster", "up", "--workloads", given])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --workloads:" in err and named in err and "Traceback" not in err


def test_join_args_prints_the_flags_for_a_node_of_other_classes(capsys):
    assert main(["cluster", "join-args", "--workloads", "serve"]) == 0
    assert capsys.readouterr().out == (
        "--labels=raylane.io/workload-serve=true '--resources={\"raylane_workload_serve\":1000}'\n"
    )


def test_up_prints_a_join_command_for_the_heads_classes():
    from framework.cli.cluster import join_lines

    lines = join_lines("/home/u/.raylane/ray/auth_token", "10.0.0.5:6379", ("train", "score"))
    assert lines == [
        "workload classes: train, score (raylane jobs of other classes will not run on this head)",
        "add a node:   RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=/home/u/.raylane/ray/auth_token ray start "
        "--address=10.0.0.5:6379 --labels=raylane.io/workload-train=true,raylane.io/workload-score=true "
        "'--resources={\"raylane_workload_score\":1000,\"raylane_workload_train\":1000}'",
        "              (for a node of other classes, replace --labels/--resources with the output of "
        "`raylane cluster join-args --workloads serve`)",
    ]
    assert join_lines("/t", "10.0.0.5:6379", ()) == [
        "add a node:   RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=/t ray start --address=10.0.0.5:6379"
    ]
