"""HeadSpec: loopback by default, validated, and the `ray start` command it becomes (workload classes too)."""

from __future__ import annotations

import json

import pytest

from framework.cluster import (
    HeadSpec,
    accept_workloads,
    exposure_warning,
    head_env,
    is_loopback,
    ray_start_args,
    worker_start_args,
)
from framework.errors import ConfigError


def _flags(args: list[str]) -> dict[str, str]:
    return dict(arg.split("=", 1) for arg in args if "=" in arg)


def test_defaults_bind_dashboard_to_loopback_and_block():
    args = ray_start_args(HeadSpec())
    assert args[:3] == ["start", "--head", "--block"]
    flags = _flags(args)
    assert flags["--dashboard-host"] == "127.0.0.1"
    assert flags["--dashboard-port"] == "8265" and flags["--port"] == "6379"
    assert HeadSpec().dashboard_url == "http://127.0.0.1:8265"


def test_resources_are_configurable():
    spec = HeadSpec(num_cpus=2, num_gpus=0, resources={"trainer": 1}, object_store_memory=512 * 2**20, temp_dir="/tmp/r")
    flags = _flags(ray_start_args(spec))
    assert flags["--num-cpus"] == "2" and flags["--num-gpus"] == "0"
    assert json.loads(flags["--resources"]) == {"trainer": 1}
    assert flags["--object-store-memory"] == str(512 * 2**20)
    assert flags["--temp-dir"] == "/tmp/r"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"port": 0}, "port"),
        ({"dashboard_port": 70000}, "dashboard_port"),
        ({"num_cpus": -1}, "num_cpus"),
        ({"resources": {"CPU": 4}}, "--num-cpus"),
        ({"resources": {"trainer": -1}}, "trainer"),
        ({"object_store_memory": 1024}, "75 MiB"),
    ],
)
def test_invalid_specs_name_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        HeadSpec(**kwargs)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_no_warning_on_loopback(host):
    assert is_loopback(host)
    assert exposure_warning(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::", "head.example.com"])
def test_warning_beyond_loopback_mentions_tls_and_tunnel(host):
    warning = exposure_warning(host)
    assert warning and "TLS" in warning and "ssh -L" in warning and host in warning


def test_all_interfaces_still_reached_over_loopback_locally():
    assert HeadSpec(host="0.0.0.0").dashboard_url == "http://127.0.0.1:8265"


def test_head_env_turns_token_auth_on_and_prefers_this_python(tmp_path):
    import sys
    from pathlib import Path

    env = head_env(tmp_path / "t", base={"PATH": "/usr/bin", "RAY_AUTH_TOKEN": "stale"})
    assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN_PATH"] == str(tmp_path / "t")
    assert "RAY_AUTH_TOKEN" not in env
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_labels_become_rays_labels_flag():
    flags = _flags(ray_start_args(HeadSpec(labels={"zone": "a", "raylane.io/workload-train": "true"})))
    assert flags["--labels"] == "zone=a,raylane.io/workload-train=true"
    assert "--labels" not in _flags(ray_start_args(HeadSpec()))


@pytest.mark.parametrize("labels", [{"a,b": "x"}, {"a": "x=y"}, {"ray.io/node-id": "x"}, {"": "x"}])
def test_labels_that_would_break_the_flag_are_refused(labels):
    with pytest.raises(ConfigError, match="labels"):
        HeadSpec(labels=labels)


def test_workloads_merge_into_labels_and_resources_keeping_the_users():
    spec = HeadSpec(labels={"zone": "a"}, resources={"trainer": 1, "raylane_workload_train": 5})
    merged = accept_workloads(spec, ["train", "score"])
    assert merged.labels == {"zone": "a", "raylane.io/workload-train": "true", "raylane.io/workload-score": "true"}
    assert merged.resources == {"trainer": 1, "raylane_workload_train": 5, "raylane_workload_score": 1000}
    flags = _flags(ray_start_args(merged))
    assert json.loads(flags["--resources"]) == merged.resources
    assert flags["--labels"] == "zone=a,raylane.io/workload-train=true,raylane.io/workload-score=true"


def test_an_unknown_workload_class_is_named():
    with pytest.raises(ConfigError, match="'bogus'.*train, sweep, score, serve, nightly"):
        accept_workloads(HeadSpec(), ["train", "bogus"])


def test_worker_start_args_parse_back_with_rays_own_parsers():
    from ray._private.label_utils import parse_node_labels_string

    labels, resources = worker_start_args(["serve", "nightly"])
    assert parse_node_labels_string(labels.removeprefix("--labels=")) == {
        "raylane.io/workload-serve": "true", "raylane.io/workload-nightly": "true"
    }
    assert json.loads(resources.removeprefix("--resources=")) == {"raylane_workload_serve": 1000, "raylane_workload_nightly": 1000}
