"""A real model bundle on synthetic data, built without Ray: the one place scoring and serving tests
get theirs. A plain module (not conftest.py), imported by name.

The bundle is what `raylane train` writes, minus the Ray Train run: the pipeline of
jobs/configs/train_small.yaml fitted on generated data, a small seeded DLRM trained for a few
hundred steps with plain torch, the data's contract and a lineage record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from framework.config import read_yaml
from framework.data import read_table
from framework.data.generate import CONTRACT_FILE, GenerateRequest, write_synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]
SMALL_MODEL = {"name": "dlrm", "embedding_dim": 4, "bottom_mlp": [16, 4], "top_mlp": [16]}


def generate(directory: Path, rows: int, seed: int, **request) -> Path:
    """Synthetic Criteo-like Parquet (hive-partitioned) with its contract.yaml; returns the directory."""
    write_synthetic_dataset(directory, GenerateRequest(rows=rows, seed=seed, **request))
    return directory


def _train_briefly(model, arrays: dict, labels: np.ndarray, steps: int, seed: int) -> None:
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    continuous, categorical = torch.from_numpy(arrays["continuous"]), torch.from_numpy(arrays["categorical"])
    target = torch.from_numpy(labels.astype(np.float32))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for step in range(steps):
        rows = torch.randint(0, len(target), (512,))
        loss = loss_fn(model(continuous[rows], categorical[rows]), target[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def make_bundle(directory: Path, data: Path, seed: int = 0, steps: int = 200, profile_data: Path | None = None) -> Path:
    """Fit the small training config's pipeline on `data`, train a small DLRM, save the bundle
    (with the feature profile of `profile_data` when given, as training does with validation data)."""
    from framework.features import FeaturePipeline
    from framework.models import build_model, save_bundle, validate_model_config
    from framework.models.inputs import model_inputs

    features = read_yaml(ROOT / "jobs" / "configs" / "train_small.yaml")["features"]
    pipeline = FeaturePipeline.from_yaml_dict(features)
    table = read_table(data)
    pipeline.fit(table)
    arrays = model_inputs(pipeline, table, out_of_fold=True)
    schema = pipeline.output_schema
    config = validate_model_config(SMALL_MODEL)
    cardinalities = list(schema.categorical.values())
    model = build_model(config, len(schema.continuous), cardinalities, seed=seed)
    _train_briefly(model, arrays, table["label"].to_numpy(), steps, seed)
    documents = {}
    if profile_data is not None:
        documents["profile.json"] = _profile(pipeline, model, read_table(profile_data))
    return save_bundle(
        directory,
        model=model,
        model_config=config,
        continuous_columns=list(schema.continuous),
        categorical_columns=list(schema.categorical),
        cardinalities=cardinalities,
        pipeline=pipeline,
        metrics={"auc": None},
        contract_path_or_text=data / CONTRACT_FILE,
        lineage={"run_name": "scoring-fake", "seed": seed},
        documents=documents,
    )


def _profile(pipeline, model, table) -> dict:
    from framework.models.inputs import finite_inputs
    from framework.monitor import build_profile

    arrays = pipeline.transform_to_arrays(table, passthrough=False)
    inputs = finite_inputs(arrays)
    with torch.no_grad():
        logits = model(torch.from_numpy(inputs["continuous"]), torch.from_numpy(inputs["categorical"]))
    return build_profile(pipeline, arrays, torch.sigmoid(logits.double()).numpy())
