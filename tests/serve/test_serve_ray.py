"""Serving on Ray Serve (the shared session cluster): parity over HTTP with batching, every bad request
through the proxy, metrics across replicas, a replica killed under load, a model switch, overload."""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from framework.config import validate_mapping
from framework.score import BundleScorer
from framework.serve import start_serving, token_digest
from tests.scoring_fakes import make_bundle
from tests.serve._load import SteadyLoad
from tests.serve.conftest import AUTH, TOKEN, json_rows
from tests.serve.test_body_limit import BIG, _urllib_post

pytestmark = [pytest.mark.ray, pytest.mark.slow]
APP = "raylane-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(path, port, **sections):
    mapping = {
        "model": {"path": str(path), "reload_check_s": 0.5},
        "server": {"port": port},
        "batching": {"max_batch_size": 32, "batch_wait_timeout_s": 0.01},
        "deployment": {"num_replicas": 2, "num_cpus": 0.25, "health_check_period_s": 1, "graceful_shutdown_timeout_s": 5},
        "limits": {"max_rows": 100, "max_body_bytes": 200_000},
        "app_name": APP,
    }
    for name, values in sections.items():
        mapping[name] = {**mapping.get(name, {}), **values}
    return validate_mapping(mapping, kind="serve")[1]


@pytest.fixture(scope="module")
def served(ray_cluster, serve_bundle, tmp_path_factory):
    from ray import serve

    path = tmp_path_factory.mktemp("served") / "bundle"
    shutil.copytree(serve_bundle, path)
    cfg = _config(path, _free_port())
    endpoint = start_serving(cfg, token_digest(TOKEN))
    yield endpoint, cfg, path
    serve.shutdown()  # gives the CPUs back to the other tests


@pytest.fixture(scope="module")
def scorer(serve_bundle):
    return BundleScorer(serve_bundle)


def _post(url, body, headers=AUTH):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{url}/v1/predict", content=content, headers={"Content-Type": "application/json", **headers}, timeout=30)


def _metric_sum(url, name, **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", headers=AUTH, timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def _metric_sum_reaching(url, name, expected, timeout_s=30.0, **labels) -> float:
    """The metric once it reaches `expected` (or the last value at the deadline): replicas push their
    counters every `metrics_push_s` (2 s), later on a busy machine."""
    deadline = time.monotonic() + timeout_s
    value = _metric_sum(url, name, **labels)
    while value < expected and time.monotonic() < deadline:
        time.sleep(0.25)
        value = _metric_sum(url, name, **labels)
    return value


def _settled_metric_sum(url, name) -> float:
    """The metric once a push interval passes without change: earlier tests' requests all counted."""
    value = _metric_sum(url, name)
    for _ in range(10):
        time.sleep(2.5)
        value, previous = _metric_sum(url, name), value
        if value == previous:
            break
    return value


def test_online_scores_equal_batch_scores_with_batching(served, scorer, raw_rows):
    endpoint, _, _ = served
    slices = [(start, 1 + start % 7) for start in range(0, 600, 10)]  # 60 requests of 1-7 rows
    requests_before = _settled_metric_sum(endpoint.url, "raylane_serve_batch_requests_sum")
    batches_before = _metric_sum(endpoint.url, "raylane_serve_batch_requests_count")

    def ask(piece):
        start, length = piece
        return _post(endpoint.url, {"rows": json_rows(raw_rows.slice(start, length), scorer.input_columns)})

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(ask, slices))
    assert [r.status_code for r in replies] == [200] * len(slices)
    for (start, length), reply in zip(slices, replies):
        np.testing.assert_allclose(reply.json()["scores"], scorer.score(raw_rows.slice(start, length)), rtol=0, atol=1e-6)
        assert reply.json()["model"]["version"] == scorer.identity.version
    _metric_sum_reaching(endpoint.url, "raylane_serve_batch_requests_sum", requests_before + len(slices))
    time.sleep(2.5)  # one more push: a request counted twice would show now
    requests = _metric_sum(endpoint.url, "raylane_serve_batch_requests_sum") - requests_before
    batches = _metric_sum(endpoint.url, "raylane_serve_batch_requests_count") - batches_before
    assert requests == len(slices), "every request counted once, across both replicas"
    assert batches < requests, "concurrent requests shared model calls"


def test_online_scores_equal_the_committed_nightly_batch_output(served, serve_bundle, serve_data, scorer, tmp_path):
    """The batch job (Ray Data, actor pool, committed Parquet) and the service score the same rows alike."""
    from framework.data import read_table
    from framework.score import ScoreConfig, read_committed, run_scoring

    endpoint, _, _ = served
    day = sorted(p for p in serve_data.iterdir() if p.name.startswith("event_date="))[0]
    run_date = day.name.partition("=")[2]
    cfg = ScoreConfig(model=str(serve_bundle), input=str(day), output=str(tmp_path / "scores"), run_date=run_date,
                      pool={"actors": 1, "cpus_per_actor": 0.25}, progress_every_s=60)
    committed = read_committed(run_scoring(cfg).run_dir, columns=["id", "score"])
    batch_scores = dict(zip(committed["id"].to_pylist(), committed["score"].to_pylist()))
    rows = read_table(day).slice(0, 64)
    reply = _post(endpoint.url, {"rows": json_rows(rows, ["id", *scorer.input_columns])})
    assert reply.status_code == 200
    expected = [batch_scores[i] for i in rows["id"].to_pylist()]
    np.testing.assert_allclose(reply.json()["scores"], expected, rtol=0, atol=1e-6)


def test_every_bad_request_gets_its_status_through_the_proxy_and_never_500(served, scorer, raw_rows):
    endpoint, _, _ = served
    row = json_rows(raw_rows.slice(0, 1), scorer.input_columns)[0]
    cases = [
        (lambda: _post(endpoint.url, {"rows": [row]}, headers={}), 401),
        (lambda: _post(endpoint.url, {"rows": [row]}, headers={"Authorization": "Bearer not-the-token-000000"}), 401),
        (lambda: httpx.get(f"{endpoint.url}/metrics", timeout=30), 401),
        (lambda: _post(endpoint.url, b'{"rows": [}'), 400),
        (lambda: _post(endpoint.url, b"\xff\xfe"), 400),
        (lambda: _post(endpoint.url, b"[" * 50_000), 400),
        (lambda: _post(endpoint.url, b'{"rows": ["' + b"x" * 250_000 + b'"]}'), 413),
        (lambda: _post(endpoint.url, {"rows": [row] * 101}), 413),
        (lambda: _post(endpoint.url, json.dumps({"rows": [dict(row, I1="x")]}).replace('"x"', "NaN").encode()), 422),
        (lambda: _post(endpoint.url, json.dumps({"rows": [dict(row, I2="x")]}).replace('"x"', "-Infinity").encode()), 422),
        (lambda: _post(endpoint.url, {"rows": [dict(row, C2=123)]}), 422),
        (lambda: _post(endpoint.url, {"rows": [dict(row, unknown=1)]}), 422),
        (lambda: _post(endpoint.url, {"rows": []}), 422),
        (lambda: httpx.get(f"{endpoint.url}/healthz", timeout=30), 200),
    ]
    statuses = [call().status_code for call, _ in cases]
    assert statuses == [expected for _, expected in cases]
    reply = _post(endpoint.url, {"rows": [dict(row, C2=987654321)]})
    assert reply.json()["detail"][0]["loc"] == ["rows", 0, "C2"] and "987654321" not in reply.text


def test_urllib_gets_the_413_for_a_15_mb_body_through_the_proxy(served):
    endpoint, _, _ = served
    with pytest.raises(urllib.error.HTTPError) as raised:  # not a connection reset: the replica drained the body
        _urllib_post(endpoint.url, b"x" * BIG)
    assert raised.value.code == 413
    assert json.loads(raised.value.read()) == {"detail": "request body over the limit of 200000 bytes"}


def _replica_actors(ray):
    from ray.util import list_named_actors

    names = [a["name"] for a in list_named_actors(all_namespaces=True) if a["name"].startswith(f"SERVE_REPLICA::{APP}#Scorer#")]
    return {name: ray.get_actor(name, namespace="serve") for name in names}


def _running_replicas(serve) -> int:
    deployment = serve.status().applications[APP].deployments["Scorer"]
    return deployment.replica_states.get("RUNNING", 0)


def test_a_killed_replica_costs_under_one_percent_and_comes_back(served, scorer, raw_rows, ray_cluster):
    from ray import serve

    endpoint, _, _ = served
    ray = ray_cluster
    bodies = [json.dumps({"rows": json_rows(raw_rows.slice(i, 1), scorer.input_columns)}).encode() for i in range(50)]
    before = _replica_actors(ray)
    assert len(before) == 2
    with SteadyLoad(f"{endpoint.url}/v1/predict", bodies, AUTH, concurrency=4) as load:
        load.wait_for(150)
        ray.kill(next(iter(before.values())), no_restart=True)
        killed_at = load.total
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(0.5)
            after = _replica_actors(ray)
            if len(after) == 2 and set(after) != set(before) and _running_replicas(serve) == 2:
                break
        load.wait_for(killed_at + 300)
    assert len(after) == 2 and set(after) != set(before), "the killed replica was replaced"
    assert _running_replicas(serve) == 2
    ok = load.statuses[200]
    assert load.total >= 450 and ok / load.total >= 0.99, dict(load.statuses)
    # A request caught on the replica as it dies fails fast (500/502/503) or, when Serve's proxy never hears back,
    # runs into server.request_timeout_s (408). Either way it is an answer, not a hang or a reset connection.
    assert set(load.statuses) <= {200, 408, 500, 502, 503}, dict(load.statuses)


def test_a_new_bundle_is_picked_up_without_failed_requests(served, serve_data, scorer, raw_rows, tmp_path):
    endpoint, _, path = served
    fresh = make_bundle(tmp_path / "fresh", serve_data, seed=9, steps=30)
    new_version = BundleScorer(fresh).identity.version
    bodies = [json.dumps({"rows": json_rows(raw_rows.slice(i, 2), scorer.input_columns)}).encode() for i in range(20)]
    with SteadyLoad(f"{endpoint.url}/v1/predict", bodies, AUTH, concurrency=4) as load:
        load.wait_for(40)
        staging = path.with_name("staging")
        shutil.copytree(fresh, staging)
        path.rename(path.with_name("retired"))
        staging.rename(path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and load.versions[-20:].count(new_version) < 20:
            time.sleep(0.2)
    assert dict(load.statuses) == {200: load.total}
    assert load.versions[0] == scorer.identity.version and load.versions[-1] == new_version
    switch = load.versions.index(new_version)
    assert set(load.versions[:switch]) == {scorer.identity.version}
    assert _metric_sum_reaching(endpoint.url, "raylane_serve_model_info", 2, version=new_version) == 2
    assert _metric_sum_reaching(endpoint.url, "raylane_serve_model_reloads_total", 2) == 2


def test_overload_is_503_with_retry_after(served, scorer, raw_rows):
    from ray import serve

    from framework.serve._deployment import build_application

    endpoint, cfg, path = served
    tight = _config(path, cfg.server.port, batching={"enabled": False},
                    deployment={"num_replicas": 1, "max_ongoing_requests": 1, "max_queued_requests": 1, "retry_after_s": 3})
    serve.run(build_application(tight, token_digest(TOKEN)), name=APP, route_prefix="/")
    body = json.dumps({"rows": json_rows(raw_rows.slice(0, 100), scorer.input_columns)}).encode()
    with ThreadPoolExecutor(24) as pool:
        replies = list(pool.map(lambda _: _post(endpoint.url, body), range(48)))
    statuses = [r.status_code for r in replies]
    assert 500 not in statuses and set(statuses) <= {200, 503}
    assert statuses.count(503) >= 1 and statuses.count(200) >= 2
    assert all(r.headers.get("retry-after") == "3" for r in replies if r.status_code == 503)

