"""Direct ingress (the default for one replica): the replica itself answers on the configured port,
with the same routes, auth, limits and scores as through Serve's proxy."""

from __future__ import annotations

import json
import shutil
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from framework.config import validate_mapping
from framework.score import BundleScorer
from framework.serve import start_serving, token_digest
from tests.serve.conftest import AUTH, TOKEN, json_rows
from tests.serve.test_body_limit import BIG, _urllib_post
from tests.serve.test_serve_ray import _free_port, _metric_sum

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def direct(ray_cluster, serve_bundle, tmp_path_factory):
    from ray import serve

    path = tmp_path_factory.mktemp("direct") / "bundle"
    shutil.copytree(serve_bundle, path)
    port = _free_port()
    mapping = {"model": {"path": str(path), "reload_check_s": 0}, "server": {"port": port},
               "deployment": {"num_cpus": 0.25}, "limits": {"max_rows": 20}, "app_name": "raylane-direct"}
    cfg = validate_mapping(mapping, kind="serve")[1]
    endpoint = start_serving(cfg, token_digest(TOKEN))
    yield endpoint, port
    serve.shutdown()


def test_the_replica_serves_the_configured_port_and_the_proxy_is_elsewhere(direct):
    from ray.serve.context import _get_global_client

    endpoint, port = direct
    assert endpoint.ingress == "direct" and endpoint.url.endswith(f":{port}")
    assert _get_global_client().http_config.port != port  # Serve's proxy moved aside
    assert httpx.get(f"{endpoint.url}/healthz", timeout=30).json()["status"] == "ok"


def test_scores_equal_batch_scores_and_bad_requests_get_their_status(direct, serve_bundle, raw_rows):
    endpoint, _ = direct
    scorer = BundleScorer(serve_bundle)

    def post(content, headers=AUTH):
        return httpx.post(f"{endpoint.url}/v1/predict", content=content, headers={"Content-Type": "application/json", **headers}, timeout=30)

    pieces = [raw_rows.slice(start, 1 + start % 5) for start in range(0, 300, 10)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda t: post(json.dumps({"rows": json_rows(t, scorer.input_columns)}).encode()), pieces))
    for table, reply in zip(pieces, replies):
        assert reply.status_code == 200
        np.testing.assert_allclose(reply.json()["scores"], scorer.score(table), rtol=0, atol=1e-6)
    row = json_rows(raw_rows.slice(0, 1), scorer.input_columns)[0]
    statuses = [
        post(json.dumps({"rows": [row]}).encode(), headers={}).status_code,
        post(b"{nope").status_code,
        post(json.dumps({"rows": [row] * 21}).encode()).status_code,
        post(json.dumps({"rows": [dict(row, I3="x")]}).replace('"x"', "Infinity").encode()).status_code,
    ]
    assert statuses == [401, 400, 413, 422]
    assert _metric_sum(endpoint.url, "raylane_serve_requests_total", route="/v1/predict", status="200") == len(pieces)


def test_urllib_gets_the_413_for_a_15_mb_body(direct):
    endpoint, _ = direct
    with pytest.raises(urllib.error.HTTPError) as raised:  # not a connection reset: the replica drained the body
        _urllib_post(endpoint.url, b"x" * BIG)
    assert raised.value.code == 413
    assert json.loads(raised.value.read()) == {"detail": "request body over the limit of 1048576 bytes"}
