"""The serve config, token resolution and the `raylane serve` command line (no Ray)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from framework.cli import build_parser, main as cli_main
from framework.cli.serve import config_from_args
from framework.config import load_config, validate_mapping
from framework.errors import ConfigError
from framework.serve import BearerCheck, resolve_auth, resolve_token_digest, token_digest
from framework.serve._runner import serve_env

ROOT = Path(__file__).resolve().parents[2]


def _cfg(**sections):
    return validate_mapping({"model": {"path": "b"}, **sections}, kind="serve")[1]


def test_the_shipped_config_is_a_serve_config():
    kind, cfg = load_config(ROOT / "jobs" / "configs" / "serve.yaml")
    assert kind == "serve"
    assert cfg.server.auth.mode == "token" and cfg.batching.enabled and cfg.ingress == "direct"


@pytest.mark.parametrize(
    "sections, ingress",
    [({}, "direct"), ({"deployment": {"num_replicas": 2}}, "proxy"),
     ({"deployment": {"autoscaling": {"min_replicas": 1, "max_replicas": 3}}}, "proxy"),
     ({"server": {"ingress": "proxy"}}, "proxy"), ({"server": {"ingress": "direct"}, "deployment": {"num_replicas": 3}}, "direct")],
)
def test_auto_ingress_is_direct_for_one_fixed_replica(sections, ingress):
    assert _cfg(**sections).ingress == ingress


def test_direct_ingress_gives_each_replica_a_port_from_the_configured_one():
    env = serve_env(_cfg(server={"port": 9100, "ingress": "direct"}, deployment={"num_replicas": 3}))
    assert env["RAY_SERVE_ENABLE_DIRECT_INGRESS"] == "1"
    assert (env["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"], env["RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT"]) == ("9100", "9103")
    assert serve_env(_cfg(deployment={"num_replicas": 2}))["RAY_SERVE_ENABLE_DIRECT_INGRESS"] == "0"
    assert "RAY_SERVE_THROUGHPUT_OPTIMIZED" not in serve_env(_cfg(throughput_optimized=False))


def test_serve_processes_read_the_registry_and_audit_log_of_the_caller(monkeypatch, tmp_path):
    # Serve's processes are workers of a cluster that may have been started with another environment
    monkeypatch.setenv("RAYLANE_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    monkeypatch.delenv("RAYLANE_AUDIT_LOG", raising=False)
    env = serve_env(_cfg())
    assert env["RAYLANE_HOME"] == str(tmp_path.resolve())
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.internal:5000" and "RAYLANE_AUDIT_LOG" not in env


@pytest.mark.parametrize(
    "sections, field",
    [({"deployment": {"autoscaling": {"max_replica": 3}}}, "deployment.autoscaling"),
     ({"deployment": {"autoscaling": {"min_replicas": 4, "max_replicas": 2}}}, "deployment.autoscaling"),
     ({"server": {"ssl_certfile": "c.pem"}}, "server"),
     ({"batching": {"max_batch_size": 0}}, "batching.max_batch_size"),
     ({"server": {"auth": {"mode": "open"}}}, "server.auth.mode"),
     ({"limits": {"max_row": 5}}, "limits.max_row")],
)
def test_bad_configs_name_the_field(sections, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        _cfg(**sections)


def test_the_token_comes_from_a_private_file_or_the_environment(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("file-token-0123456789abcdef\n")
    os.chmod(token_file, 0o600)
    assert resolve_token_digest(str(token_file), environ={}) == token_digest("file-token-0123456789abcdef")
    assert resolve_token_digest(None, environ={"RAYLANE_SERVE_TOKEN": "env-token-0123456789abc"}) == token_digest("env-token-0123456789abc")
    os.chmod(token_file, 0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        resolve_token_digest(str(token_file), environ={})
    with pytest.raises(ConfigError, match="--no-auth"):
        resolve_token_digest(None, environ={})
    with pytest.raises(ConfigError, match="at least 16"):
        resolve_token_digest(None, environ={"RAYLANE_SERVE_TOKEN": "short"})


def test_bearer_check_compares_the_whole_token():
    check = BearerCheck(token_digest("the-right-token-123456"))
    assert check.allows("Bearer the-right-token-123456") and check.allows("bearer the-right-token-123456")
    for header in (None, "", "Bearer", "Bearer the-right-token-12345", "Basic the-right-token-123456", "the-right-token-123456"):
        assert not check.allows(header)
    assert BearerCheck(None).allows(None)


def _args(*argv):
    return build_parser().parse_args(["serve", *argv])


def test_flags_override_the_config_file(tmp_path):
    config = tmp_path / "serve.yaml"
    config.write_text("model: {path: from-file}\nserver: {port: 9000}\nbatching: {max_batch_size: 8}\n")
    cfg = config_from_args(_args("--config", str(config), "--port", "9001", "--host", "0.0.0.0", "batching.enabled=false"))
    assert (cfg.model.path, cfg.server.port, cfg.server.host, cfg.batching.max_batch_size, cfg.batching.enabled) == ("from-file", 9001, "0.0.0.0", 8, False)
    assert config_from_args(_args("--model", "m", "--no-auth")).server.auth.mode == "none"


def test_no_auth_prints_a_warning_and_needs_no_token(capsys):
    assert resolve_auth(config_from_args(_args("--model", "m", "--no-auth")), environ={}) is None
    assert "WITHOUT authentication" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [(["serve"], "which model"), (["serve", "--model", "m", "--no-auth", "--token-file", "t"], "contradict"),
     (["serve", "--model", "/no/such/bundle", "--no-auth"], "no such directory")],
)
def test_command_line_errors_are_one_line_without_traceback(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("RAYLANE_SERVE_TOKEN", raising=False)
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_serving_without_a_token_is_refused(serve_bundle, capsys, monkeypatch):
    monkeypatch.delenv("RAYLANE_SERVE_TOKEN", raising=False)
    assert cli_main(["serve", "--model", str(serve_bundle)]) == 2
    assert "needs a token" in capsys.readouterr().err


def test_serve_until_interrupted_stops_what_it_started(monkeypatch, capsys):
    from framework.serve import _session
    from framework.serve._runner import ServingEndpoint

    events = []
    endpoint = ServingEndpoint(url="http://127.0.0.1:8000", app_name="raylane", ingress="direct", urls=("http://127.0.0.1:8000",))
    monkeypatch.setattr(_session, "start_serving", lambda cfg, digest: events.append(("start", digest)) or endpoint)
    monkeypatch.setattr(_session, "stop_serving", lambda ep: events.append(("stop", ep)))

    def interrupt(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setenv("RAYLANE_SERVE_TOKEN", "a-token-for-this-test-0001")
    _session.serve_until_interrupted(_cfg(), sleep=interrupt)
    assert events == [("start", token_digest("a-token-for-this-test-0001")), ("stop", endpoint)]
    assert "http://127.0.0.1:8000/v1/predict" in capsys.readouterr().out


def test_a_wide_host_without_tls_is_warned_about():
    from framework.serve._session import exposure_warning

    assert exposure_warning(_cfg().server) is None
    assert "plain HTTP" in exposure_warning(_cfg(server={"host": "0.0.0.0"}).server)
    assert exposure_warning(_cfg(server={"host": "0.0.0.0", "ssl_certfile": "c", "ssl_keyfile": "k"}).server) is None


def test_the_serve_application_builder_validates_its_args(monkeypatch):
    from framework.serve.app import app

    monkeypatch.delenv("RAYLANE_SERVE_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="model"):
        app({"batching": {"enabled": True}})
    with pytest.raises(ConfigError, match="needs a token"):
        app({"model": {"path": "x"}})


def test_deployment_settings_reach_serve():
    from ray.serve.config import AutoscalingConfig

    from framework.serve._deployment import deployment_options

    scaled = deployment_options(_cfg(deployment={"autoscaling": {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 32},
                                                 "num_cpus": 0.25, "max_queued_requests": 10, "retry_after_s": 2}))
    assert isinstance(scaled["autoscaling_config"], AutoscalingConfig) and "num_replicas" not in scaled
    assert (scaled["autoscaling_config"].max_replicas, scaled["autoscaling_config"].target_ongoing_requests) == (4, 32)
    assert scaled["ray_actor_options"] == {"num_cpus": 0.25, "num_gpus": 0.0}
    assert scaled["max_queued_requests"] == 10 and scaled["backpressure_config"] == {"status_code": 503, "retry_after_s": 2.0}
    assert deployment_options(_cfg(deployment={"num_replicas": 3}))["num_replicas"] == 3
