"""Loading refuses tampered, malicious, traversing or unsupported bundles, and never unpickles anything."""

from __future__ import annotations

import hashlib
import json
import pathlib
import pickle

import numpy as np
import pytest
import torch
from tests.models.model_fakes import bundle_inputs, save_small_bundle

import framework.models
from framework.errors import ArtifactError
from framework.models import load_bundle


class _TouchOnUnpickle:
    """Unpickling this runs Path.touch(marker): proof that code from the file was executed."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _payload(marker: pathlib.Path) -> bytes:
    return pickle.dumps(_TouchOnUnpickle(marker))


def _edit_manifest(bundle: pathlib.Path, edit) -> None:
    manifest = json.loads((bundle / "model.json").read_text())
    edit(manifest)
    (bundle / "model.json").write_text(json.dumps(manifest))


def _rehash(bundle: pathlib.Path, name: str) -> None:
    """What an attacker who can also edit model.json would do: make the checksum match again."""
    digest = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    _edit_manifest(bundle, lambda manifest: manifest["files"].__setitem__(name, digest))


@pytest.fixture
def bundle(tmp_path) -> pathlib.Path:
    return save_small_bundle(tmp_path / "bundle")[0]


@pytest.fixture
def no_unpickling(monkeypatch):
    """Any unpickling during the test fails it loudly, whichever path it comes through."""

    def refuse(*args, **kwargs):
        raise AssertionError("a bundle file was unpickled")

    for module, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")):
        monkeypatch.setattr(module, name, refuse)


def test_the_payload_really_runs_when_unpickled(tmp_path):
    marker = tmp_path / "proof"
    pickle.loads(_payload(marker))
    assert marker.exists()  # so the marker staying absent below means something


@pytest.mark.parametrize("name", ["model.safetensors", "metrics.json", "lineage.json", "contract.yaml"])
def test_a_tampered_file_is_refused_by_name(bundle, name):
    data = bytearray((bundle / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / name).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=rf"{name}: sha256 does not match model.json"):
        load_bundle(bundle)


@pytest.mark.parametrize("rehash", [False, True], ids=["checksum_stale", "checksum_forged"])
def test_a_pickle_planted_as_the_weights_is_refused_and_never_run(bundle, tmp_path, no_unpickling, rehash):
    marker = tmp_path / "pwned"
    (bundle / "model.safetensors").write_bytes(_payload(marker))
    if rehash:
        _rehash(bundle, "model.safetensors")
    expected = "not a readable safetensors file" if rehash else "sha256 does not match"
    with pytest.raises(ArtifactError, match=rf"model.safetensors: {expected}"):
        load_bundle(bundle)
    assert not marker.exists()


@pytest.mark.parametrize("stray", ["model.pt", "weights.pkl", "pipeline.pkl"])
def test_stray_pickle_files_are_ignored(bundle, tmp_path, no_unpickling, stray):
    marker = tmp_path / "pwned"
    (bundle / stray).write_bytes(_payload(marker))
    continuous, categorical = bundle_inputs()
    before = load_bundle(bundle).predict_proba(continuous, categorical)

    loaded = load_bundle(bundle)

    np.testing.assert_array_equal(loaded.predict_proba(continuous, categorical), before)
    assert stray not in loaded.checksums
    assert not marker.exists()


@pytest.mark.parametrize("listed", ["../outside.json", "/etc/hostname", "sub/../../outside.json"])
def test_a_manifest_path_leaving_the_bundle_is_refused(bundle, tmp_path, listed):
    (tmp_path / "outside.json").write_text("{}")
    digest = hashlib.sha256(b"{}").hexdigest()
    _edit_manifest(bundle, lambda manifest: manifest["files"].__setitem__(listed, digest))
    with pytest.raises(ArtifactError, match="not a plain path inside the bundle"):
        load_bundle(bundle)


def test_a_symlink_leaving_the_bundle_is_refused(bundle, tmp_path):
    outside = tmp_path / "outside_metrics.json"
    outside.write_text('{"auc": 1.0}')
    (bundle / "metrics.json").unlink()
    (bundle / "metrics.json").symlink_to(outside)
    _rehash(bundle, "metrics.json")
    with pytest.raises(ArtifactError, match="metrics.json: a link to .*outside the bundle"):
        load_bundle(bundle)


def test_a_symlinked_bundle_directory_is_followed_once(bundle, tmp_path):
    alias = tmp_path / "alias"
    alias.symlink_to(bundle, target_is_directory=True)
    assert load_bundle(alias).directory == bundle.resolve()


def test_an_unsupported_format_version_is_refused(bundle):
    _edit_manifest(bundle, lambda manifest: manifest.__setitem__("format_version", 2))
    with pytest.raises(ArtifactError, match=r"model.json: format_version 2 is not supported \(this raylane reads version 1\)"):
        load_bundle(bundle)


def test_a_broken_manifest_is_refused_by_name(bundle):
    (bundle / "model.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="model.json: not valid JSON"):
        load_bundle(bundle)


def test_unlisted_pipeline_files_are_refused(bundle):
    (bundle / "pipeline").mkdir()
    (bundle / "pipeline" / "pipeline.json").write_text("{}")
    with pytest.raises(ArtifactError, match="pipeline.json: not listed in model.json"):
        load_bundle(bundle)


def test_a_missing_bundle_is_an_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="not a directory"):
        load_bundle(tmp_path / "nowhere")


def test_no_model_module_can_unpickle():
    """A static guard: nothing in framework/models may call torch.load or import pickle."""
    package = pathlib.Path(framework.models.__file__).parent
    for source in package.glob("*.py"):
        text = source.read_text()
        assert "torch.load" not in text and "import pickle" not in text, source.name
