"""`demo_requests`, the round trip `raylane demo` makes: serve, real HTTP requests, stop."""

from __future__ import annotations

import numpy as np
import pytest

from framework.score import BundleScorer
from framework.serve import demo_requests
from tests.serve.test_serve_ray import _free_port

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_demo_requests_serves_answers_and_stops(ray_cluster, serve_bundle, raw_rows):
    from ray.serve.context import _get_global_client

    lines = []
    replies = demo_requests(str(serve_bundle), raw_rows, rows=3, port=_free_port(), log=lines.append)
    assert [status for status, _ in replies] == [200, 200, 422, 401]
    scorer = BundleScorer(serve_bundle)
    np.testing.assert_allclose(replies[1][1]["scores"], scorer.score(raw_rows.slice(0, 3)), atol=1e-6)
    assert replies[0][1]["model"]["version"] == scorer.identity.version
    assert len(lines) == 4 and all(line.startswith("[serve-demo] POST /v1/predict") for line in lines)
    assert _get_global_client(raise_if_no_controller_running=False) is None, "Serve was stopped"
