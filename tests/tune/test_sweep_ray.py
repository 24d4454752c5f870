"""Sweeps end to end on the shared Ray cluster: ASHA, a Pareto front, Ray Train trials, SIGKILL and resume.

Independent references: Tune's own per-trial result.json files (not the study), the model's
parameter count rebuilt from each trial's config, and an uninterrupted run of the same sweep.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from framework.features import FeaturePipeline
from framework.models import build_model, load_bundle, validate_model_config
from framework.tune import retrain_best, run_sweep
from framework.tune.space import trial_train_dict
from framework.tune.study import INTERRUPTED_KEY, finished_count
from framework.config import load_config
from tests.tune.conftest import SMALL, data_overrides, sweep_config

pytestmark = [pytest.mark.ray, pytest.mark.slow]

PNG = b"\x89PNG\r\n\x1a\n"
MULTI = "jobs/configs/sweep_multi.yaml"
ASHA_REDUCTION = 3  # with 3 epochs: one rung, at epoch 1


def _tune_results(sweep_dir: Path) -> dict[str, list[dict]]:
    """Every result Tune wrote, by Tune trial id, read from its result.json files."""
    results = collections.defaultdict(list)
    for path in sorted((sweep_dir / "tune").glob("launch-*/*/result.json")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            results[record["trial_id"]].append(record)
    return dict(results)


def _epoch_auc(record: dict) -> float:
    """The AUC of the epoch a Tune record reports. A trial's last record carries the AUC of the epoch
    it keeps, the one the study is told; when that is an earlier epoch, its own is under `last_epoch`."""
    return record.get("last_epoch", record)["auc"]


def _kept(records: list[dict]) -> tuple[int, float]:
    """(epoch, AUC) of the epoch the checkpoint rule (auc, max) keeps: the first best one."""
    aucs = [_epoch_auc(r) for r in records]
    best = max(range(len(aucs)), key=lambda i: (aucs[i], -i))
    return records[best]["epoch"], aucs[best]


def _study(cfg):
    return optuna.load_study(study_name=cfg.run.name, storage=f"sqlite:///{cfg.sweep_directory() / 'study.db'}")


def _counted(study):
    interrupted = set(study.user_attrs.get(INTERRUPTED_KEY, []))
    return [t for t in study.trials if t.state != TrialState.WAITING and t.number not in interrupted]


@pytest.fixture(scope="module")
def asha_sweep(ray_cluster, sweep_data, tmp_path_factory):
    storage = tmp_path_factory.mktemp("asha")
    sample = sweep_data / "sample"
    # One trial at a time: ASHA's decisions depend on the order results arrive, and two trials
    # racing each other made them depend on timing. Seeded trials run in sequence are deterministic;
    # random sampling, unlike TPE, does not hand ASHA a run of ever better trials that none can fail.
    cfg = sweep_config(
        sweep_data, storage, "asha", "num_samples=6", "max_concurrent_trials=1", "sampler=random",
        f"scheduler={{name: asha, grace_period: 1, reduction_factor: {ASHA_REDUCTION}}}",
        f"trial_overrides=[data.train={sample}]", epochs=3,
    )
    lines: list[str] = []
    return cfg, run_sweep(cfg, log=lines.append), lines


def test_asha_stops_some_of_six_trials_early(asha_sweep):
    cfg, result, lines = asha_sweep
    study = _study(cfg)
    trials = _counted(study)
    assert len(trials) == 6 and finished_count(study) == 6
    assert all(t.state == TrialState.COMPLETE for t in trials)
    tune = _tune_results(result.sweep_dir)
    assert sorted(tune) == sorted(t.user_attrs["tune_trial_id"] for t in trials), "one Tune trial per study trial"
    epochs = {trial_id: [r["epoch"] for r in records] for trial_id, records in tune.items()}
    assert all(e == list(range(1, len(e) + 1)) for e in epochs.values()), "one result per epoch"
    stopped = [trial_id for trial_id, e in epochs.items() if len(e) < 3]
    # The asynchronous successive-halving rule, applied to Tune's own records in trial order: a trial
    # stops at the rung when its AUC is below the (1 - 1/rf) quantile of the earlier trials' AUCs there.
    in_order = [t.user_attrs["tune_trial_id"] for t in sorted(trials, key=lambda t: t.number)]
    rung = [tune[trial_id][0]["auc"] for trial_id in in_order]
    expected = [
        trial_id for index, trial_id in enumerate(in_order)
        if index and rung[index] < np.percentile(rung[:index], 100 * (1 - 1 / ASHA_REDUCTION))
    ]
    assert sorted(stopped) == sorted(expected), (rung, epochs)
    assert stopped and len(stopped) < 6, (rung, epochs)
    assert result.summary["trials"]["stopped_early"] == len(stopped)
    kept = {trial_id: _kept(records) for trial_id, records in tune.items()}
    best = result.summary["best"]
    assert best["values"]["auc"] == pytest.approx(max(auc for _, auc in kept.values()), abs=1e-12)
    assert kept[best["tune_trial_id"]] == (best["kept_epoch"], pytest.approx(best["values"]["auc"], abs=1e-12))
    for trial in trials:
        assert (trial.user_attrs["kept"]["epoch"], trial.value) == kept[trial.user_attrs["tune_trial_id"]]
    assert json.loads(result.best_path.read_text())["best"]["trial"] == best["trial"]
    for name in ("history", "importances", "parallel"):
        assert result.plots[name].read_bytes()[:8] == PNG
    rows = result.table.splitlines()[2:]
    assert len(rows) == 6 and sum("STOPPED" in row for row in rows) == len(stopped)
    assert result.table in lines


def test_every_trial_is_an_mlflow_run_and_the_sweep_is_audited(asha_sweep, sweep_data):
    from framework.governance import AuditLog
    from framework.lineage import data_snapshot
    from framework.registry.store import experiment_id, mlflow_client

    cfg, result, _ = asha_sweep
    client = mlflow_client()
    runs = client.search_runs([experiment_id(client)], filter_string="tags.`raylane.sweep` = 'asha'")
    study = {t.number: t for t in _counted(_study(cfg))}
    assert sorted(int(r.data.tags["raylane.study_trial"]) for r in runs) == sorted(study)
    tune = _tune_results(result.sweep_dir)
    sample_hash = data_snapshot(str(sweep_data / "sample"))["hash"]
    for run in runs:
        tags, trial = run.data.tags, study[int(run.data.tags["raylane.study_trial"])]
        assert tags["raylane.kind"] == "sweep-trial" and tags["raylane.data.train.hash"] == sample_hash
        assert tags["raylane.git_commit"] and len(tags["raylane.config_hash"]) == 64 and tags["raylane.seed"] == "0"
        assert float(run.data.params["optim.lr"]) == pytest.approx(trial.params["optim.lr"], rel=1e-12)
        assert run.data.params["model.embedding_dim"] == str(trial.params["model.embedding_dim"])
        records = tune[trial.user_attrs["tune_trial_id"]]  # Tune's own result.json: the reference
        aucs = client.get_metric_history(run.info.run_id, "auc")
        assert [(m.step, m.value) for m in sorted(aucs, key=lambda m: m.step)] == [(r["epoch"], pytest.approx(_epoch_auc(r))) for r in records]
        assert tags["raylane.outcome"] == ("stopped" if len(records) < 3 else "complete")
    audits = [r for r in AuditLog.default().records() if r["action"] == "sweep" and r["details"].get("sweep") == "asha"]
    assert len(audits) == 1 and audits[0]["outcome"] == "ok"
    assert audits[0]["details"]["best_trial"] == result.summary["best"]["trial"] and audits[0]["data_hash"] == sample_hash


def test_trials_train_on_their_sample_and_retrain_uses_the_full_data(asha_sweep, sweep_data):
    cfg, result, _ = asha_sweep
    best = result.summary["best"]
    retrained = retrain_best(cfg, result.summary, result.best_path)
    bundle = Path(retrained["bundle"])
    lineage = json.loads((bundle / "lineage.json").read_text())
    assert lineage["data"]["train"]["rows"] == 20_000, "the full training data, not the trials' 8,000-row sample"
    model = json.loads((bundle / "model.json").read_text())
    assert json.dumps(model).count(str(best["params"]["model.embedding_dim"])) >= 1
    loaded = load_bundle(bundle)
    assert loaded.model_config.hyperparameters["embedding_dim"] == best["params"]["model.embedding_dim"]
    assert loaded.model_config.hyperparameters["bottom_mlp"][-1] == best["params"]["model.embedding_dim"]
    assert json.loads(result.best_path.read_text())["retrained"]["bundle"] == str(bundle)


def _nondominated(points: dict[int, tuple[float, float]]) -> set[int]:
    """Maximise the first, minimise the second, by brute force."""
    return {
        n for n, (auc, size) in points.items()
        if not any(a >= auc and s <= size and (a > auc or s < size) for m, (a, s) in points.items() if m != n)
    }


def test_a_multi_objective_sweep_writes_the_pareto_front(ray_cluster, sweep_data, tmp_path):
    cfg = sweep_config(sweep_data, tmp_path, "multi", "num_samples=4", "max_concurrent_trials=2", epochs=1, config=MULTI)
    result = run_sweep(cfg, log=lambda line: None)
    study = _study(cfg)
    tune = _tune_results(result.sweep_dir)
    pipeline = FeaturePipeline.load(result.sweep_dir / "pipeline")
    schema = pipeline.output_schema
    points = {}
    for trial in _counted(study):
        last = tune[trial.user_attrs["tune_trial_id"]][-1]
        model = trial_train_dict(cfg.base_train_dict(), trial.params, cfg.tied)["model"]
        assert model["top_mlp"][0] == trial.params["model.top_mlp.0"] and model["bottom_mlp"][-1] == model["embedding_dim"]
        rebuilt = build_model(validate_model_config(model), len(schema.continuous), list(schema.categorical.values()), seed=0)
        assert last["num_params"] == sum(p.numel() for p in rebuilt.parameters())
        points[trial.number] = (last["auc"], last["num_params"])
    assert len(points) == 4
    front = [entry["trial"] for entry in result.summary["pareto_front"]]
    assert set(front) == _nondominated(points)
    assert result.plots["pareto"].read_bytes()[:8] == PNG


def test_trials_with_ray_train_workers_report_every_epoch(ray_cluster, sweep_data, tmp_path):
    cfg = sweep_config(sweep_data, tmp_path, "workers", "num_samples=1", "scheduler=none", "resources.workers_per_trial=1", epochs=2)
    result = run_sweep(cfg, log=lambda line: None)
    (trial,) = _counted(_study(cfg))
    assert trial.state == TrialState.COMPLETE
    assert [h["epoch"] for h in trial.user_attrs["history"]] == [1, 2]
    run_dir = result.sweep_dir / "trials" / f"train-{trial.user_attrs['tune_trial_id']}"
    assert any(run_dir.glob("checkpoint_*")), f"Ray Train checkpoints under {run_dir}"
    kept = max(trial.user_attrs["history"], key=lambda h: (h["auc"], -h["epoch"]))
    best = result.summary["best"]
    assert (best["kept_epoch"], best["values"]["auc"]) == (kept["epoch"], pytest.approx(kept["auc"]))


@pytest.mark.parametrize("workers_per_trial", [0, 1])
def test_trials_train_with_sharded_tables(ray_cluster, sweep_data, tmp_path, workers_per_trial):
    """In-process trials (a one-member process group) and Ray Train trials both shard with TorchRec."""
    overrides = data_overrides(sweep_data, "optim.epochs=1", "scaling.embeddings=table_wise")
    cfg = load_config(SMALL, [overrides, "run.name=sharded", f"run.storage_path={tmp_path}", "num_samples=2",
                              "scheduler=none", "sampler={name: random, seed: 0}", f"resources.workers_per_trial={workers_per_trial}"],
                      kind="sweep")[1]
    result = run_sweep(cfg, log=lambda line: None)
    trials = _counted(_study(cfg))
    assert len(trials) == 2 and all(t.state == TrialState.COMPLETE for t in trials)
    assert all(t.user_attrs["metrics"]["auc"] > 0.6 for t in trials), [t.user_attrs["metrics"] for t in trials]
    if workers_per_trial:
        shards = list((result.sweep_dir / "trials").glob("train-*/checkpoint_*/embeddings-00000.json"))
        assert len(shards) == 2, "each trial's Ray Train worker wrote its shards"


KILLED = ("num_samples=4", "max_concurrent_trials=2", "sampler={name: random, seed: 0}", "scheduler=none")


def _sweep_command(sweep_data, storage, name):
    overrides = [data_overrides(sweep_data, "optim.epochs=1"), f"run.name={name}", f"run.storage_path={storage}", *KILLED]
    return [sys.executable, "-m", "jobs.sweep", SMALL, *overrides]


def _trials_drawn(db: Path) -> list[tuple[str, int]]:
    """(state, parameters drawn) per trial, read-only: the poll must neither create the new
    database's schema while the sweep does nor take its write lock."""
    if not db.exists():
        return []
    query = ("SELECT t.state, COUNT(p.param_id) FROM trials t LEFT JOIN trial_params p ON p.trial_id = t.trial_id "
             "GROUP BY t.trial_id")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as connection:
            return connection.execute(query).fetchall()
    except sqlite3.OperationalError:  # no tables yet, or busy for a moment
        return []


def _wait_until_all_drawn_and_one_running(db: Path, process, deadline):
    """All four configs drawn (a trial killed between its ask and its draw has no config to compare
    with an uninterrupted sweep's) and one still training."""
    while time.monotonic() < deadline and process.poll() is None:
        trials = _trials_drawn(db)
        if len(trials) == 4 and all(drawn == 2 for _, drawn in trials) and any(s == "RUNNING" for s, _ in trials):
            return
        time.sleep(0.1)


def _uninterrupted_params(cfg) -> list[str]:
    """The configs an uninterrupted sweep draws: the same seeded sampler, asked four times, no training."""
    from framework.tune.space import suggest_params
    from framework.tune.study import build_sampler

    study = optuna.create_study(direction="maximize", sampler=build_sampler(cfg, 0))
    return sorted(json.dumps(suggest_params(study.ask(), cfg.space), sort_keys=True) for _ in range(cfg.num_samples))


def test_a_killed_driver_resumes_without_losing_or_repeating_trials(ray_cluster, sweep_data, tmp_path):
    command = _sweep_command(sweep_data, tmp_path, "killed")
    env = {**os.environ, "RAY_ADDRESS": ray_cluster.get_runtime_context().gcs_address}
    db = tmp_path / "killed" / "study.db"
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_until_all_drawn_and_one_running(db, first, time.monotonic() + 240)
    assert first.poll() is None, f"the sweep ended before it could be killed:\n{first.stdout.read()[-3000:]}"
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = {t.number: t for t in optuna.load_study(study_name="killed", storage=f"sqlite:///{db}").trials}
    left_running = sorted(n for n, t in before.items() if t.state == TrialState.RUNNING)
    assert left_running

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert second.stdout.strip().splitlines()[-1] == f"best: {tmp_path / 'killed' / 'best.json'}"

    cfg = sweep_config(sweep_data, tmp_path, "killed", *KILLED, epochs=1)
    study = _study(cfg)
    assert sorted(study.user_attrs[INTERRUPTED_KEY]) == left_running
    by_number = {t.number: t for t in study.trials}
    retries = {t.user_attrs["raylane.retry_of"]: t for t in study.trials if "raylane.retry_of" in t.user_attrs}
    assert sorted(retries) == left_running
    for number in left_running:
        assert by_number[number].state == TrialState.FAIL, "never left dangling"
        assert retries[number].params == by_number[number].params and retries[number].state == TrialState.COMPLETE
    for number, trial in before.items():
        if trial.state == TrialState.COMPLETE:  # finished before the kill: kept as they were, not rerun
            assert by_number[number].values == trial.values
    counted = _counted(study)
    assert len(counted) == 4 == finished_count(study), "the total is num_samples"
    assert len({t.user_attrs["tune_trial_id"] for t in counted}) == 4
    params = sorted(json.dumps(t.params, sort_keys=True) for t in counted)
    assert params == _uninterrupted_params(cfg), "exactly the configs of an uninterrupted sweep, none repeated"
    # Tune's result.json of the killed launch may be empty (its writes were buffered when the driver
    # died); the retried trials' ones, written by the second launch, must agree with the study
    tune = _tune_results(cfg.sweep_directory())
    for number in left_running:
        assert tune[retries[number].user_attrs["tune_trial_id"]][-1]["auc"] == pytest.approx(retries[number].value, abs=1e-12)
    last_auc = {t.number: t.value for t in counted}
    best = json.loads((tmp_path / "killed" / "best.json").read_text())["best"]
    assert best["trial"] == max(last_auc, key=last_auc.get)
    assert best["values"]["auc"] == pytest.approx(max(last_auc.values()), abs=1e-12)
