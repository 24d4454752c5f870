"""Model bundles: the round trip, the files written, atomic replacement, and the pipeline inside."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import torch
from tests.models.model_fakes import SMALL_CONFIGS, bundle_inputs, save_small_bundle

from framework.errors import ArtifactError, DataError
from framework.models import build_model, load_bundle, save_bundle, validate_model_config


def _predict(model, continuous, categorical) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(continuous), torch.from_numpy(categorical)).double()).numpy()


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_round_trip_gives_identical_predictions(tmp_path, name):
    path, model = save_small_bundle(tmp_path / "bundle", config=SMALL_CONFIGS[name])
    bundle = load_bundle(path)
    continuous, categorical = bundle_inputs()

    np.testing.assert_array_equal(bundle.predict_proba(continuous, categorical), _predict(model, continuous, categorical))
    assert bundle.predict_proba(continuous, categorical).dtype == np.float64
    assert not bundle.model.training
    assert bundle.model_config == validate_model_config(SMALL_CONFIGS[name])


def test_bundle_holds_the_documented_files_and_metadata(tmp_path):
    path, _ = save_small_bundle(tmp_path / "bundle", metrics={"auc": float("nan"), "rows": np.int64(10)})
    names = sorted(p.name for p in path.iterdir())
    assert names == ["contract.yaml", "lineage.json", "metrics.json", "model.json", "model.safetensors"]
    manifest = json.loads((path / "model.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["model"]["name"] == "dlrm"
    assert manifest["inputs"] == {"continuous_columns": ["I1", "I2"], "categorical_columns": ["C1", "C2"], "cardinalities": [6, 3]}
    assert sorted(manifest["files"]) == ["contract.yaml", "lineage.json", "metrics.json", "model.safetensors"]

    bundle = load_bundle(path)
    assert bundle.metrics == {"auc": None, "rows": 10}  # JSON has no NaN: stored as null
    assert bundle.lineage["run_id"] == "run-1"
    assert bundle.contract_path.read_text() == "columns:\n  I1: float64\n"
    assert bundle.pipeline is None
    assert (bundle.continuous_columns, bundle.categorical_columns, bundle.cardinalities) == (["I1", "I2"], ["C1", "C2"], [6, 3])


def test_contract_given_as_a_path_is_copied(tmp_path):
    contract = tmp_path / "contract.yaml"
    contract.write_text("columns: {}\n")
    path, _ = save_small_bundle(tmp_path / "bundle", contract_path_or_text=contract)
    assert (path / "contract.yaml").read_text() == "columns: {}\n"
    with pytest.raises(ArtifactError, match="missing.yaml: contract file not found"):
        save_small_bundle(tmp_path / "other", contract_path_or_text=str(tmp_path / "missing.yaml"))


def test_data_parallel_prefixes_are_stripped(tmp_path):
    config = validate_model_config(SMALL_CONFIGS["mlp"])
    model = build_model(config, 2, [6, 3], seed=0).eval()
    path, _ = save_small_bundle(tmp_path / "bundle", config=SMALL_CONFIGS["mlp"], model=torch.nn.DataParallel(model))
    continuous, categorical = bundle_inputs()
    np.testing.assert_array_equal(load_bundle(path).predict_proba(continuous, categorical), _predict(model, continuous, categorical))


def test_weights_that_do_not_fit_the_description_are_refused_at_save(tmp_path):
    with pytest.raises(ArtifactError, match="do not fit dlrm"):
        save_small_bundle(tmp_path / "bundle", cardinalities=[7, 3])
    assert list(tmp_path.iterdir()) == []


def test_an_existing_bundle_is_replaced_whole(tmp_path):
    target = tmp_path / "bundle"
    save_small_bundle(target, seed=0, contract_path_or_text=None)
    (target / "stale.txt").write_text("left over from the old bundle")
    _, newer = save_small_bundle(target, seed=1)
    continuous, categorical = bundle_inputs()
    np.testing.assert_array_equal(load_bundle(target).predict_proba(continuous, categorical), _predict(newer, continuous, categorical))
    assert not (target / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no staging or retired copies left


def test_a_directory_that_is_not_a_bundle_is_never_replaced(tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(ArtifactError, match="not a model bundle"):
        save_small_bundle(target)
    assert (target / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["precious"]


def test_a_failed_save_leaves_the_old_bundle_in_place(tmp_path):
    target = tmp_path / "bundle"
    save_small_bundle(target)
    before = (target / "model.json").read_bytes()
    with pytest.raises(ArtifactError, match="cannot store"):
        save_small_bundle(target, metrics={"auc": object()})
    assert (target / "model.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_predict_proba_checks_shapes_and_index_ranges(tmp_path):
    bundle = load_bundle(save_small_bundle(tmp_path / "bundle")[0])
    continuous, categorical = bundle_inputs()
    with pytest.raises(DataError, match=r"continuous \[rows, 2\]"):
        bundle.predict_proba(continuous[:, :1], categorical)
    categorical[0, 1] = 3
    with pytest.raises(DataError, match="'C2' has an index outside"):
        bundle.predict_proba(continuous, categorical)


def test_bundle_with_a_fitted_feature_pipeline(tmp_path):
    from framework.features import FeaturePipeline

    raw = pa.table({"I1": [1.0, 5.0, 2.0, 9.0], "C1": ["a", "b", "a", "c"]})
    pipeline = FeaturePipeline.from_yaml_dict(
        {"ops": [{"op": "log1p", "columns": ["I1"]}, {"op": "categorify", "columns": ["C1"]}]}
    ).fit(raw)
    cardinalities = [f.cardinality for f in pipeline.output_schema.fields if f.kind == "categorical"]
    config = validate_model_config(SMALL_CONFIGS["mlp"])
    model = build_model(config, 1, cardinalities, seed=0).eval()
    path = save_bundle(
        tmp_path / "bundle", model=model, model_config=config, continuous_columns=["I1"], categorical_columns=["C1"],
        cardinalities=cardinalities, pipeline=pipeline, metrics={}, lineage={},
    )
    assert (path / "pipeline" / "pipeline.json").is_file()

    bundle = load_bundle(path)
    tensors = bundle.pipeline.transform_to_tensors(raw)
    expected = _predict(model, tensors["continuous"].numpy(), tensors["categorical"].numpy())
    np.testing.assert_array_equal(bundle.predict_proba(tensors["continuous"], tensors["categorical"]), expected)


def test_urls_are_refused_rather_than_made_into_local_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArtifactError, match="local paths only"):
        save_small_bundle("s3://bucket/bundle")
    with pytest.raises(ArtifactError, match="local paths only"):
        load_bundle("s3://bucket/bundle")
    assert list(tmp_path.iterdir()) == []


def test_a_ddp_wrapped_model_saves_without_its_prefix(tmp_path):
    """What Ray Train's prepare_model hands back: DistributedDataParallel (one gloo process here)."""
    import torch.distributed as dist

    config = validate_model_config(SMALL_CONFIGS["dlrm"])
    model = build_model(config, 2, [6, 3], seed=0).eval()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
        assert all(key.startswith("module.") for key in wrapped.state_dict())
        path, _ = save_small_bundle(tmp_path / "bundle", config=SMALL_CONFIGS["dlrm"], model=wrapped)
    finally:
        dist.destroy_process_group()
    continuous, categorical = bundle_inputs()
    np.testing.assert_array_equal(load_bundle(path).predict_proba(continuous, categorical), _predict(model, continuous, categorical))


def test_a_large_model_is_written_across_several_weight_files_and_loads_whole(tmp_path, monkeypatch):
    from framework.models import _bundle_files

    monkeypatch.setattr(_bundle_files, "WEIGHTS_FILE_BYTES", 256)  # a few tensors per file
    path, model = save_small_bundle(tmp_path / "bundle", config=SMALL_CONFIGS["dlrm"])
    parts = sorted(p.name for p in path.glob("model*.safetensors"))
    assert len(parts) > 2 and parts[0] == "model-00002-of-%05d.safetensors" % len(parts), parts
    listed = json.loads((path / "model.json").read_text())["files"]
    assert set(parts) <= set(listed), "every weight file is checksummed"
    continuous, categorical = bundle_inputs()
    np.testing.assert_array_equal(load_bundle(path).predict_proba(continuous, categorical), _predict(model, continuous, categorical))
    (path / parts[1]).write_bytes((path / parts[1]).read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ArtifactError, match="sha256"):
        load_bundle(path)


def test_loading_and_scoring_a_bundle_imports_neither_torchrec_nor_fbgemm(tmp_path):
    import subprocess
    import sys

    path, _ = save_small_bundle(tmp_path / "bundle", config=SMALL_CONFIGS["dlrm"])
    script = (
        "import sys, numpy as np\n"
        "import framework.score, framework.serve\n"
        "from framework.models import load_bundle\n"
        "from tests.models.model_fakes import bundle_inputs\n"
        f"bundle = load_bundle({str(path)!r})\n"
        "bundle.predict_proba(*bundle_inputs())\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torchrec', 'fbgemm_gpu'))\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
