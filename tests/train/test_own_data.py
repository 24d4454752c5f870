"""A user's own table to a trained bundle in three commands, with no edits in between:
`raylane data contract` → `raylane features suggest` → `raylane train ... features=pipeline.yaml`, on a
table with awkward column names (hyphens, spaces, unicode), string and integer categoricals, nulls, a
hive partition and a column of email addresses (which must end up `pii` and out of the model)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from framework.data import load_contract

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, rows).astype(float) * rng.choice([1, 10, 100], rows)
    temperature = rng.normal(20, 5, rows)
    shop = rng.choice(["nord", "süd", "ost", "west"], rows)
    code = rng.choice([1017, 2203, 3391, 4409, 5521], rows)
    logit = 0.4 * np.log1p(visits) - 0.08 * (temperature - 20) + (shop == "süd") * 0.8 - 1.0
    clicked = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    visits[rng.random(rows) < 0.1] = np.nan
    return pa.table({
        "row id": np.arange(rows, dtype=np.int64) + seed * 10_000_000,
        "visits-count": visits,
        "température °C": temperature,
        "shop name": pa.array([None if rng.random() < 0.05 else s for s in shop]),
        "product code": code.astype(np.int64),
        "user email": [f"user{i}@example.com" for i in rng.integers(0, 10**6, rows)],
        "clicked": clicked,
    })


def _write(root, days: dict[str, int], seed: int) -> None:
    for index, (day, rows) in enumerate(days.items()):
        directory = root / f"event_date={day}"
        directory.mkdir(parents=True)
        pq.write_table(_table(rows, seed + index), directory / "part-0.parquet")


def _raylane(*args, env) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "framework.cli", *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_three_commands_from_own_parquet_to_a_bundle(tmp_path):
    _write(tmp_path / "events", {"2026-03-01": 6_000, "2026-03-02": 6_000}, seed=1)
    _write(tmp_path / "holdout", {"2026-03-03": 3_000}, seed=9)
    env = {**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, "RAYLANE_HOME": str(tmp_path / "home")}

    _raylane("data", "contract", "--data", str(tmp_path / "events"), "--label", "clicked", "--id", "row id",
             "--out", str(tmp_path / "contract.yaml"), env=env)
    contract = load_contract(tmp_path / "contract.yaml")
    assert contract.column("user email").role == "pii" and contract.column("event_date").type == "date32"
    _raylane("features", "suggest", "--data", str(tmp_path / "events"), "--contract", str(tmp_path / "contract.yaml"),
             "--out", str(tmp_path / "pipeline.yaml"), env=env)
    suggested = yaml.safe_load((tmp_path / "pipeline.yaml").read_text())["features"]
    read = {column for op in suggested["ops"] for column in op.get("columns", [])}
    assert "user email" not in read and {"visits-count", "température °C", "shop name"} <= read
    done = _raylane("train", "jobs/configs/train_small.yaml", f"data.train={tmp_path / 'events'}",
                    f"data.valid={tmp_path / 'holdout'}", f"data.contract={tmp_path / 'contract.yaml'}",
                    f"features={tmp_path / 'pipeline.yaml'}", "label=clicked", "card.slices=[]", "registry.name=null",
                    f"run.storage_path={tmp_path / 'runs'}", "run.name=own", "optim.epochs=2", "scaling.num_workers=1", env=env)
    bundle = tmp_path / "runs" / "own" / "bundle"
    assert done.stdout.strip().splitlines()[-1] == f"bundle: {bundle}"
    metrics = yaml.safe_load((bundle / "metrics.json").read_text())
    assert metrics["best"]["auc"] > 0.6, metrics["best"]  # the planted signal is learnt

    # the same, with `features: {suggest: true}`: training suggests, writes and prints the pipeline it used
    done = _raylane("train", "jobs/configs/train_small.yaml", f"data.train={tmp_path / 'events'}",
                    f"data.valid={tmp_path / 'holdout'}", f"data.contract={tmp_path / 'contract.yaml'}",
                    "features={suggest: true}", "label=clicked", "card.slices=[]", "registry.name=null",
                    f"run.storage_path={tmp_path / 'runs'}", "run.name=suggested", "optim.epochs=1", "scaling.num_workers=1",
                    env=env)
    written = tmp_path / "runs" / "suggested" / "features.suggested.yaml"
    assert f"[train] features suggested from the training data: {written}" in done.stdout
    assert yaml.safe_load(written.read_text())["features"] == suggested  # the same data, the same suggestion
    assert (tmp_path / "runs" / "suggested" / "bundle" / "model.safetensors").is_file()
