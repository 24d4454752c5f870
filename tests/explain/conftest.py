"""The explanation world of these tests: a small bundle trained without Ray, and the same bundle
re-saved with the documents training gives it (profile, explain.json, model card), built once."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from tests.scoring_fakes import SMALL_MODEL, generate, make_bundle

from framework.explain import ExplainSettings

SETTINGS = ExplainSettings(max_rows=1_000, repeats=2, seed=3)  # fewer rows than the validation data: a real sample
CARD = SimpleNamespace(slices=["C1", "C4"], intended_use="Tests.", limitations="Synthetic data.")


def explained_bundle(directory: Path, bundle: Path, valid: Path, settings: ExplainSettings = SETTINGS) -> Path:
    """`bundle` saved again as training saves it: its documents from `bundle_documents` on `valid`."""
    from framework.models import load_bundle, save_bundle
    from framework.train.publish import bundle_documents

    loaded = load_bundle(bundle)
    documents = bundle_documents(loaded.pipeline, loaded.model, name="ctr-explain", config={"model": SMALL_MODEL},
                                 valid_source=valid, label="label", metrics={"best": {"auc": 0.7}},
                                 lineage=loaded.lineage, card=CARD, explain=settings)
    return save_bundle(directory, model=loaded.model, model_config=loaded.model_config,
                       continuous_columns=loaded.continuous_columns, categorical_columns=loaded.categorical_columns,
                       cardinalities=loaded.cardinalities, pipeline=loaded.pipeline, metrics=loaded.metrics,
                       contract_path_or_text=loaded.contract_path, lineage=loaded.lineage, documents=documents)


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    train = generate(root / "train", rows=12_000, seed=1)
    valid = generate(root / "valid", rows=3_000, seed=2, start_date="2026-01-02", files_per_day=3)
    plain = make_bundle(root / "plain", train, steps=150)
    return SimpleNamespace(root=root, train=train, valid=valid, plain=plain,
                           bundle=explained_bundle(root / "bundle", plain, valid))
