"""The router behind quiet output: raylane's lines to the terminal, Ray's to the log file, and a Ray
warning that means the job will wait forever rewritten, once, as raylane's own message."""

from __future__ import annotations

import pytest

from framework import console


@pytest.fixture()
def quiet(tmp_path, monkeypatch):
    monkeypatch.delenv("RAYLANE_LOG", raising=False)
    monkeypatch.setattr(console.Console, "active", True)
    monkeypatch.setattr(console, "_router", console._Router())
    console.log_to(tmp_path / "raylane.log")
    return tmp_path / "raylane.log"


def test_worker_lines_are_split_between_terminal_and_log(quiet, capsys):
    console._worker_lines({"pid": 42, "actor_name": "RayTrainWorker", "is_err": False,
                           "lines": ["[train] epoch 1/2: auc 0.7", "Moving model to device: cpu"]})
    out = capsys.readouterr().out
    assert "[train] epoch 1/2: auc 0.7" in out and "Moving model" not in out
    assert "(RayTrainWorker pid=42) Moving model to device: cpu" in quiet.read_text()


def test_a_warning_that_means_a_hang_becomes_raylanes_message_once(quiet, capsys):
    warning = ("Warning: The Ray cluster currently does not have any available CPUs. The Dataset job will hang "
               "unless more CPUs are freed up.")
    for _ in range(3):
        console._worker_lines({"pid": 7, "actor_name": "DatasetManager", "lines": [warning]})
    err = capsys.readouterr().err
    assert err.count("[raylane] Ray Data has no free CPU for its tasks") == 1
    assert "scaling.resources_per_worker" in err and warning in quiet.read_text()


def test_the_log_path_is_said_once_and_verbose_hides_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(console.Console, "active", True)
    monkeypatch.setattr(console, "_router", console._Router())
    monkeypatch.delenv("RAYLANE_LOG", raising=False)
    assert console.log_to(tmp_path / "a.log") == tmp_path / "a.log"
    console.log_to(tmp_path / "a.log")
    assert capsys.readouterr().out.count("logs: ") == 1
    monkeypatch.setenv("RAYLANE_LOG", "debug")
    assert console.log_to(tmp_path / "b.log") is None and not (tmp_path / "b.log").exists()


def test_the_cluster_error_channel_goes_to_the_log(quiet, capsys):
    # what Ray's error-listener thread hands print_to_stdstream (replaced by route_worker_logs)
    retry = ("Task ServeController.graceful_shutdown failed. There are infinite retries remaining, so the task will "
             "be retried. Error: The actor is dead because it was killed by `ray.kill`.")
    console._error_channel_lines({"lines": [retry], "pid": "raylet", "is_err": False}, ignore_prefix=False)
    captured = capsys.readouterr()
    assert "graceful_shutdown" not in captured.out + captured.err
    assert f"(raylet) {retry}" in quiet.read_text()


def test_loggers_a_library_takes_over_are_taken_back(quiet, capsys, monkeypatch):
    import logging
    import sys

    serve_logger = logging.getLogger("ray.serve")
    monkeypatch.setattr(serve_logger, "handlers", [])  # what importing ray.serve does, then it adds its console handler
    monkeypatch.setattr(serve_logger, "propagate", serve_logger.propagate)
    serve_logger.addHandler(logging.StreamHandler(sys.stderr))
    console.Console.reclaim_ray_loggers()
    serve_logger.warning("Started Serve in namespace serve")
    assert "Started Serve" not in capsys.readouterr().err
    assert "Started Serve in namespace serve" in quiet.read_text()


def test_quiet_output_turns_off_tunes_experiment_box(monkeypatch):
    monkeypatch.delenv("RAYLANE_LOG", raising=False)
    for name in ("RAY_AIR_NEW_OUTPUT", "RAY_SCHEDULER_EVENTS"):  # set, then removed: undone after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(console.Console, "active", False)
    monkeypatch.setattr(console, "quiet_ray_loggers", lambda: None)
    console.Console.setup(verbose_flag=False)
    assert console.os.environ["RAY_AIR_NEW_OUTPUT"] == "0"  # with RunConfig(verbose=0): Tune prints nothing
