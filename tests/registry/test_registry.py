"""The MLflow registry: versions with lineage, aliases, gated promotion against an independent AUC,
rollback, and loading that never leaves the artifact store or unpickles anything."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest
from sklearn.metrics import roc_auc_score
from tests.scoring_fakes import generate, make_bundle

from framework.data import read_table
from framework.errors import ArtifactError, ConfigError
from framework.governance import AuditLog


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A private RAYLANE_HOME (SQLite registry, audit log) with a weak and a better bundle."""
    root = tmp_path_factory.mktemp("registry")
    saved = {k: os.environ.get(k) for k in ("RAYLANE_HOME", "MLFLOW_TRACKING_URI", "RAYLANE_AUDIT_LOG")}
    os.environ["RAYLANE_HOME"] = str(root / "home")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("RAYLANE_AUDIT_LOG", None)
    train = generate(root / "train", rows=20_000, seed=1)
    holdout = generate(root / "holdout", rows=6_000, seed=4, start_date="2026-01-05")
    weak = make_bundle(root / "weak", train, steps=2)
    strong = make_bundle(root / "strong", train, steps=300)
    yield {"root": root, "weak": weak, "strong": strong, "holdout": holdout}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _auc(bundle, holdout) -> float:
    from framework.score import BundleScorer

    table = read_table(holdout)
    return roc_auc_score(table["label"].to_numpy(), BundleScorer(bundle).score(table))


def test_register_list_show(store):
    from framework.registry import list_models, register_trained_bundle, resolve_model, version_details

    first = register_trained_bundle("ctr", store["weak"], config={"optim": {"lr": 0.01}, "hash": {"salt": "s3cret"}})
    assert (first.version, first.alias) == ("1", "candidate")
    models = {m["name"]: m for m in list_models()}
    assert models["ctr"]["versions"] == [1] and models["ctr"]["aliases"] == {"candidate": "1"}
    details = version_details("ctr@candidate")
    assert details["version"] == "1" and details["aliases"] == ["candidate"]
    assert details["lineage"]["raylane.seed"] == "0" and "raylane.git_commit" in details["lineage"]
    path, identity = resolve_model("ctr/1")
    assert (path / "model.json").is_file() and identity.version == "1" and identity.name == "ctr"
    from framework.registry.store import mlflow_client

    run = mlflow_client().get_run(first.run_id)
    assert run.data.params["optim.lr"] == "0.01" and run.data.params["hash.salt"] == "<redacted>"


def test_promotion_is_gated_on_holdout_auc(store):
    from framework.registry import PromotionRefused, promote, register_trained_bundle

    promote("ctr", "1", "prod")  # the first promotion has nothing to beat
    second = register_trained_bundle("ctr", store["weak"])  # the same weak model again: not better
    with pytest.raises(PromotionRefused) as refused:
        promote("ctr", second.version, "prod", holdout=store["holdout"], margin=0.0)
    message = str(refused.value)
    weak_auc = _auc(store["weak"], store["holdout"])
    assert f"{weak_auc:.4f}" in message and message.count(f"{weak_auc:.4f}") == 2  # both numbers printed
    with pytest.raises(ConfigError, match="--holdout"):
        promote("ctr", second.version, "prod")
    third = register_trained_bundle("ctr", store["strong"])
    decision = promote("ctr", third.version, "prod", holdout=store["holdout"], margin=0.001)
    assert decision.promoted and not decision.forced
    assert decision.candidate_auc == pytest.approx(_auc(store["strong"], store["holdout"]), abs=1e-9)
    assert decision.current_auc == pytest.approx(weak_auc, abs=1e-9)
    assert decision.candidate_auc > decision.current_auc + 0.001


def test_force_is_recorded_and_rollback_returns(store):
    from framework.registry import promote, rollback, version_details

    forced = promote("ctr", "2", "prod", holdout=store["holdout"], force=True)
    assert forced.forced and version_details("ctr@prod")["version"] == "2"
    assert version_details("ctr/2")["tags"]["raylane.forced_promotion"] == "prod"
    assert rollback("ctr", "prod").version == "3"
    assert rollback("ctr", "prod").version == "1"
    with pytest.raises(ConfigError, match="no earlier version"):
        rollback("ctr", "prod")
    log = AuditLog.default()
    assert log.verify().ok
    outcomes = [(r["action"], r["outcome"]) for r in log.records()]
    assert ("promote", "refused") in outcomes and ("promote", "forced") in outcomes and outcomes.count(("rollback", "ok")) == 2


def test_a_source_outside_the_store_is_refused(store):
    """A version whose source was pointed elsewhere (here with ..) is never loaded."""
    from framework.registry import resolve_model
    from framework.registry.store import experiment_id, mlflow_client

    client = mlflow_client()
    run = client.create_run(experiment_id(client))
    outside = f"{run.info.artifact_uri}/../../../../weak"
    version = client.create_model_version("ctr", source=outside, run_id=run.info.run_id)
    with pytest.raises(ArtifactError, match="outside the artifact store"):
        resolve_model(f"ctr/{version.version}")


def test_a_planted_pickle_is_never_unpickled(store, tmp_path):
    from framework.registry import register_trained_bundle, resolve_model
    from framework.score import BundleScorer

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    registered = register_trained_bundle("ctr", store["weak"])
    path, _ = resolve_model(f"ctr/{registered.version}")
    (path / "model.pkl").write_bytes(pickle.dumps(Exploit()))  # a stray file: never opened
    BundleScorer(path).score(read_table(store["holdout"]).slice(0, 10))
    (path / "model.safetensors").write_bytes(pickle.dumps(Exploit()))  # the weights replaced by a pickle
    with pytest.raises(ArtifactError, match="model.safetensors"):
        BundleScorer(path)
    assert not marker.exists()


def test_bad_references(store):
    from framework.registry import resolve_model

    for bad in ("../x/1", "ctr/0", "ctr/latest", "ctr@9bad"):
        with pytest.raises(ConfigError):
            resolve_model(bad)
    with pytest.raises(ArtifactError, match="not in the registry"):
        resolve_model("ctr@nothing")


def test_cli(store):
    env = dict(os.environ)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "framework.cli", "models", *args], capture_output=True, text=True, env=env)

    listed = cli("list")
    assert listed.returncode == 0 and "ctr: versions" in listed.stdout and "@prod -> 1" in listed.stdout
    shown = cli("show", "ctr/3", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["version"] == "3"
    refused = cli("promote", "ctr", "2", "--alias", "prod", "--holdout", str(store["holdout"]))
    assert refused.returncode == 1 and "refused" in refused.stderr and "Traceback" not in refused.stderr
    assert cli("show", "ctr@nope").returncode != 0
