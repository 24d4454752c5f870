"""The nightly loop end to end on the shared cluster: a drifted day triggers retraining, the retrained
model beats the old one on drifted holdout data and is promoted; a normal day keeps the model."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import roc_auc_score
from tests.scoring_fakes import generate

from framework.config import validate_mapping
from framework.data import read_table
from framework.governance import AuditLog

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SMALL = "jobs/configs/train_small.yaml"


@pytest.fixture(scope="module")
def world(ray_cluster, tmp_path_factory):
    import os

    from framework.config import load_config
    from framework.registry import promote
    from framework.train import run_training

    root = tmp_path_factory.mktemp("nightly")
    saved = os.environ.get("RAYLANE_HOME")
    os.environ["RAYLANE_HOME"] = str(root / "home")
    data = {
        "train": generate(root / "train", rows=60_000, seed=1, days=2),
        "valid": generate(root / "valid", rows=15_000, seed=2, start_date="2026-01-03"),
        # The night before and the night itself in one table: the nightly config picks its day with `where`.
        "normal_day": generate(root / "normal", rows=20_000, seed=3, start_date="2026-01-03", days=2),
        "drifted_day": generate(root / "drifted", rows=10_000, seed=3, start_date="2026-01-05", drift=1.0),
        "recent": generate(root / "recent", rows=60_000, seed=5, start_date="2026-01-05", drift=1.0),
        "recent_valid": generate(root / "recent_valid", rows=15_000, seed=6, start_date="2026-01-05", drift=1.0),
        "holdout": generate(root / "holdout", rows=15_000, seed=7, start_date="2026-01-05", drift=1.0),
    }
    overrides = [f"data.train={data['train']}", f"data.valid={data['valid']}", f"data.contract={data['train'] / 'contract.yaml'}",
                 f"run.storage_path={root / 'runs'}", "run.name=first", "optim.epochs=1", "scaling.num_workers=1"]
    _, cfg = load_config(SMALL, overrides, kind="train")
    first = run_training(cfg)  # train_small.yaml registers it as ctr/1 @candidate
    assert first.model_version == "1"
    promote("ctr", first.model_version, "prod")
    yield root, data
    if saved is None:
        os.environ.pop("RAYLANE_HOME", None)
    else:
        os.environ["RAYLANE_HOME"] = saved


def _config(root, data, day: str, run_date: str, where: dict | None = None):
    retrain = [f"data.train={data['recent']}", f"data.valid={data['recent_valid']}",
               f"data.contract={data['recent'] / 'contract.yaml'}", f"run.storage_path={root / 'runs'}",
               f"run.name=nightly-{run_date}", "optim.epochs=1", "scaling.num_workers=1"]
    mapping = {"model": "ctr@prod", "registry_name": "ctr",
               "score": {"input": str(data[day]), "output": str(root / "scores"), "run_date": run_date, "where": where or {}},
               "retrain": {"config": SMALL, "overrides": retrain}, "gate": {"holdout": str(data["holdout"])}}
    return validate_mapping(mapping, kind="nightly")[1]


def test_a_normal_day_keeps_the_model(world):
    from framework.monitor.nightly import run_nightly

    from framework.score import read_committed

    root, data = world
    result = run_nightly(_config(root, data, "normal_day", "2026-01-04", where={"event_date": "2026-01-04"}))
    assert result.decision == "no drift" and result.candidate is None
    assert (result.run_dir / "_SUCCESS").exists()
    day = read_table(data["normal_day"] / "event_date=2026-01-04")  # the partition `where` names, read apart
    scored = read_committed(result.run_dir)
    assert sorted(scored["id"].to_pylist()) == sorted(day["id"].to_pylist()) and 0 < day.num_rows < 20_000


def test_a_drifted_day_retrains_and_promotes_a_better_model(world):
    from framework.monitor.nightly import run_nightly
    from framework.registry import resolve_model
    from framework.score import BundleScorer

    root, data = world
    result = run_nightly(_config(root, data, "drifted_day", "2026-01-05"))
    assert result.drift["drifted"] and len(result.drift["breaches"]) >= 3
    assert result.decision == "promoted" and result.candidate == "ctr/2"
    holdout = read_table(data["holdout"])
    labels = holdout["label"].to_numpy()
    aucs = {v: roc_auc_score(labels, BundleScorer(resolve_model(f"ctr/{v}")[0]).score(holdout)) for v in ("1", "2")}
    assert aucs["2"] > aucs["1"], aucs  # checked independently of the gate's own numbers
    assert resolve_model("ctr@prod")[1].version == "2"
    records = [r for r in AuditLog.default().records() if r["action"] == "nightly"]
    assert [r["outcome"] for r in records] == ["no drift", "promoted"]
    assert AuditLog.default().verify().ok
    assert json.loads(json.dumps(result.promotion))["candidate_auc"] == pytest.approx(aucs["2"], abs=1e-9)
