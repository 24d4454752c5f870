"""Model updates without downtime: a new bundle published at the served path replaces the model;
a request that already holds the old model finishes on it."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from framework.errors import ArtifactError
from framework.score import BundleScorer
from framework.serve import ServiceSettings, local_app
from framework.serve._model_source import ModelSource
from tests.scoring_fakes import make_bundle
from tests.serve.conftest import json_rows


@pytest.fixture()
def served_path(serve_bundle, tmp_path):
    path = tmp_path / "served"
    shutil.copytree(serve_bundle, path)
    return path


@pytest.fixture(scope="module")
def other_bundle(serve_data, tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("other") / "bundle", serve_data, seed=5, steps=30)


def _publish(source_bundle, path):
    """Publish like save_bundle does: copy beside the target, then rename into place."""
    staging = path.with_name(path.name + ".staging")
    shutil.copytree(source_bundle, staging)
    retired = path.with_name(path.name + ".retired")
    path.rename(retired)
    staging.rename(path)
    shutil.rmtree(retired)


def test_refresh_switches_and_in_flight_models_keep_scoring_the_old_way(served_path, other_bundle, raw_rows):
    table = raw_rows.slice(0, 20)
    source = ModelSource(str(served_path))
    in_flight = source.current
    old_scores = BundleScorer(served_path).score(table)
    assert source.refresh() is False  # nothing changed

    _publish(other_bundle, served_path)
    assert source.refresh() is True
    new_scores = BundleScorer(other_bundle).score(table)
    assert not np.allclose(old_scores, new_scores)
    np.testing.assert_array_equal(source.current.scorer.score(table), new_scores)
    np.testing.assert_array_equal(in_flight.scorer.score(table), old_scores)
    assert source.current.identity.version != in_flight.identity.version


def test_a_broken_bundle_keeps_the_old_model_serving(served_path, raw_rows):
    source = ModelSource(str(served_path))
    before = source.current
    weights = served_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    with pytest.raises(ArtifactError, match="sha256"):
        source.refresh()
    assert source.current is before


def test_the_app_switches_while_answering(served_path, other_bundle, raw_rows):
    scorer = BundleScorer(served_path)
    new_version = BundleScorer(other_bundle).identity.version
    body = {"rows": json_rows(raw_rows.slice(0, 2), scorer.input_columns)}
    app = local_app(ServiceSettings(model_place=str(served_path), reload_check_s=0.1, token_digest=None))
    seen = []
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/v1/predict", json=body).json()["model"]["version"] == scorer.identity.version
        _publish(other_bundle, served_path)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not seen or seen[-1][1] != new_version):
            reply = client.post("/v1/predict", json=body)
            seen.append((reply.status_code, reply.json()["model"]["version"]))
        metrics = client.get("/metrics").text
    assert all(status == 200 for status, _ in seen)
    assert seen[-1][1] == new_version
    assert "raylane_serve_model_reloads_total 1" in metrics
