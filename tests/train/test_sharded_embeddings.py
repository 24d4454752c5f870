"""Sharded embedding tables (TorchRec, gloo, no Ray): the same training as one process, resharding
checkpoints without pickle, bundles that score as the live model, and the refusal of what cannot fit.

Every run trains framework.train's own pieces in spawned gloo processes (tests/train/sharding_harness.py);
weights are compared after reading each checkpoint back into a plain model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.train import sharding_harness as harness
from tests.train.sharding_harness import Run, plain_weights, train

pytestmark = pytest.mark.slow
STEPS = 4


def _assert_same_weights(got: dict, expected: dict, atol: float = 1e-5) -> None:
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.allclose(got[key], expected[key], atol=atol, rtol=0), (key, (got[key] - expected[key]).abs().max())


def _plain_torch_reference(steps: int) -> dict:
    """One process, plain torch, written independently of raylane's training code: the DLRM's dense
    layers under Adam, its tables under exact row-wise Adagrad (FBGEMM's update, touched rows only)."""
    from framework.models import build_model

    model = build_model(harness.MODEL, harness.CONTINUOUS, harness.CARDINALITIES, seed=0)
    tables = [model.inputs.embeddings[j].weight for j in range(len(harness.CARDINALITIES))]
    dense = [p for name, p in model.named_parameters() if not name.startswith("inputs.embeddings.")]
    adam = torch.optim.Adam(dense, lr=harness.OPTIM["lr"])
    rowwise = harness.OPTIM["embeddings"]
    momentum = [torch.zeros(t.shape[0]) for t in tables]
    for batch in harness.global_batches(0, steps):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch["continuous"], batch["categorical"]), batch["label"])
        adam.zero_grad()
        for table in tables:
            table.grad = None
        loss.backward()
        adam.step()
        with torch.no_grad():
            for table, state in zip(tables, momentum):
                touched = table.grad.abs().sum(1) > 0
                grad = table.grad[touched]
                state[touched] += grad.pow(2).mean(1)
                table[touched] -= rowwise["lr"] * grad / (state[touched].sqrt() + rowwise["eps"]).unsqueeze(1)
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> dict:
    """STEPS global batches on one process (TorchRec with one member), and its checkpoint."""
    out = tmp_path_factory.mktemp("one") / "ckpt"
    return plain_weights(train(Run("table_wise", 1, 0, STEPS, str(out))))


def test_one_sharded_process_equals_plain_torch_with_rowwise_adagrad(one_process):
    reference = _plain_torch_reference(STEPS)
    initial = harness_initial_weights()
    _assert_same_weights(one_process, reference)
    assert not torch.allclose(one_process["inputs.embeddings.3.weight"], initial["inputs.embeddings.3.weight"])
    assert not torch.allclose(one_process["top.0.weight"], initial["top.0.weight"])


def harness_initial_weights() -> dict:
    from framework.models import build_model

    return build_model(harness.MODEL, harness.CONTINUOUS, harness.CARDINALITIES, seed=0).state_dict()


@pytest.mark.parametrize("placement, optimizer", [
    ("table_wise", "rowwise_adagrad"), ("row_wise", "rowwise_adagrad"),
    # row-wise Adagrad keeps one value per row of each column shard, so column_wise is compared with
    # optimizers whose state is per element
    ("column_wise", "adagrad"), ("row_wise", "sgd"),
])
def test_two_sharded_workers_equal_one_process_with_the_same_global_batch(placement, optimizer, one_process, tmp_path):
    two = plain_weights(train(Run(placement, 2, 0, STEPS, str(tmp_path / "two"), optimizer=optimizer)))
    one = one_process if optimizer == "rowwise_adagrad" else \
        plain_weights(train(Run("table_wise", 1, 0, STEPS, str(tmp_path / "one"), optimizer=optimizer)))
    _assert_same_weights(two, one)


@pytest.mark.parametrize("first, then", [((2, "table_wise"), (1, "table_wise")), ((1, "table_wise"), (2, "row_wise")),
                                         ((2, "row_wise"), (1, "row_wise"))])
def test_a_resume_under_another_layout_equals_an_uninterrupted_run(first, then, one_process, tmp_path):
    """Half the steps on one layout, the rest on another (each worker reads only its new pieces)."""
    half = STEPS // 2
    middle = train(Run(first[1], first[0], 0, half, str(tmp_path / "first")))
    end = train(Run(then[1], then[0], half, STEPS - half, str(tmp_path / "then"), checkpoint_in=middle))
    _assert_same_weights(plain_weights(end), one_process)


def test_column_wise_rowwise_state_resumes_exactly(tmp_path):
    """Row-wise Adagrad keeps one value per row of each column shard; a column-wise run resumed column-wise
    reads each back into its own shard (TorchRec numbers those pieces by shard, not by row)."""
    uninterrupted = plain_weights(train(Run("column_wise", 2, 0, STEPS, str(tmp_path / "whole"))))
    middle = train(Run("column_wise", 2, 0, STEPS // 2, str(tmp_path / "first")))
    end = train(Run("column_wise", 2, STEPS // 2, STEPS - STEPS // 2, str(tmp_path / "then"), checkpoint_in=middle))
    _assert_same_weights(plain_weights(end), uninterrupted)


def test_another_table_optimizer_resumes_with_fresh_state(tmp_path, capfd):
    middle = train(Run("row_wise", 2, 0, 2, str(tmp_path / "rowwise")))
    end = train(Run("row_wise", 2, 2, 2, str(tmp_path / "adagrad"), checkpoint_in=middle, optimizer="adagrad"))
    assert "optimizer state not in the checkpoint, starting fresh: inputs.embeddings.0.momentum1" in capfd.readouterr().out
    assert not torch.equal(plain_weights(end)["inputs.embeddings.1.weight"], plain_weights(middle)["inputs.embeddings.1.weight"])


def test_a_replicated_checkpoint_resumes_sharded_with_fresh_table_optimizer_state(tmp_path, capfd):
    middle = train(Run("replicated", 2, 0, 2, str(tmp_path / "replicated")))
    assert not list(Path(middle).glob("embeddings-*")), "replicated tables live in model.safetensors"
    end = train(Run("row_wise", 2, 2, 2, str(tmp_path / "sharded"), checkpoint_in=middle))
    assert "optimizer state not in the checkpoint, starting fresh" in capfd.readouterr().out
    weights = plain_weights(end)
    assert not torch.allclose(weights["inputs.embeddings.3.weight"], plain_weights(middle)["inputs.embeddings.3.weight"])


def test_checkpoint_files_are_safetensors_and_json_only(tmp_path):
    from safetensors import safe_open

    directory = Path(train(Run("row_wise", 2, 0, 1, str(tmp_path / "ckpt"))))
    names = sorted(p.name for p in directory.iterdir())
    assert {"embeddings-00000.safetensors", "embeddings-00001.json", "model.safetensors", "state.json"} <= set(names)
    for path in directory.iterdir():  # each file parses as JSON or safetensors: neither can hold a pickle
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            assert path.suffix == ".safetensors", path.name
            with safe_open(str(path), framework="pt") as handle:
                assert list(handle.keys()) is not None
    pieces = json.loads((directory / "embeddings-00001.json").read_text())["pieces"]
    assert {p["tensor"] for p in pieces} == {"weight", "momentum1"}
    rows = {p["table"]: p["offsets"][0] for p in pieces if p["tensor"] == "weight"}
    assert rows["inputs.embeddings.3"] == 500, "row-wise: worker 1 holds the second half of the 1000 rows"


def test_a_model_that_does_not_fit_is_refused_before_training(tmp_path, capfd):
    from framework.train.embeddings import EmbeddingsDoNotFit, check_fits
    from framework.models import TableSpec

    specs = [TableSpec(f"t{j}", 3_000_000, 32) for j in range(4)]  # 1.43 GiB of weights
    budget = int(sum(s.weight_bytes for s in specs) / 1.5)  # the tables take 1.5x one worker's budget
    with pytest.raises(EmbeddingsDoNotFit) as refused:
        check_fits(specs, "replicated", workers=2, budget=budget, embedding_optimizer="rowwise_adagrad",
                   dense_optimizer="adam", input_names=["C1", "C2", "C3", "C4"])
    message = str(refused.value)
    for part in ("scaling.embeddings=replicated", "t0 (C1): 3,000,000 x 32", "scaling.memory_per_worker", "row_wise"):
        assert part in message, message
    assert check_fits(specs, "table_wise", workers=2, budget=budget, embedding_optimizer="rowwise_adagrad",
                      dense_optimizer="adam") <= budget
    with pytest.raises(EmbeddingsDoNotFit, match="scaling.embeddings=row_wise"):
        check_fits(specs, "row_wise", workers=1, budget=budget, embedding_optimizer="adam", dense_optimizer="adam")
    with pytest.raises(Exception, match="scaling.embeddings=replicated"):
        train(Run("replicated", 1, 0, 1, str(tmp_path / "never"), memory_per_worker=10_000))
    assert not (tmp_path / "never").exists(), "nothing may be trained or written"


def test_adam_for_sharded_tables_is_refused_on_cpu_workers(tmp_path):
    """FBGEMM's CPU kernels have no Adam: say so before training, not deep inside FBGEMM."""
    with pytest.raises(Exception, match=r"optim.embeddings.optimizer: adam .*GPU.*rowwise_adagrad, adagrad, sgd"):
        train(Run("row_wise", 1, 0, 1, str(tmp_path / "never"), optimizer="adam"))


def test_a_bundle_from_a_sharded_checkpoint_scores_as_the_live_model(tmp_path):
    from framework.models import build_model, load_bundle, save_bundle
    from framework.train.checkpoint import load_checkpoint

    checkpoint = train(Run("row_wise", 2, 0, 3, str(tmp_path / "ckpt")))
    live = json.loads((Path(checkpoint) / "predictions.json").read_text())
    model = build_model(harness.MODEL, harness.CONTINUOUS, harness.CARDINALITIES, seed=0)
    load_checkpoint(checkpoint, model, restore_rng=False)
    save_bundle(tmp_path / "bundle", model=model, model_config=harness.MODEL, continuous_columns=["a", "b", "c"],
                categorical_columns=[f"c{j}" for j in range(5)], cardinalities=harness.CARDINALITIES, metrics={}, lineage={})
    bundle = load_bundle(tmp_path / "bundle")
    batch = harness.global_batches(99, 1)[0]
    scores = bundle.predict_proba(batch["continuous"].numpy(), batch["categorical"].numpy())
    assert scores.tolist() == pytest.approx(live, abs=1e-5)


def test_auto_replicates_small_tables_and_shards_large_ones():
    from framework.models import TableSpec
    from framework.train.embeddings import effective_placement

    small = [TableSpec(f"t{j}", 3000, 16) for j in range(4)]  # 12k rows, 4 x 2048 ids looked up a step
    large = [TableSpec(f"t{j}", 5_000_000, 16) for j in range(4)]
    assert effective_placement("auto", small, global_batch=2048) == "replicated"
    assert effective_placement("auto", large, global_batch=2048) == "auto"
    assert effective_placement("row_wise", small, global_batch=2048) == "row_wise", "an explicit placement is kept"
    assert effective_placement("table_wise", [], global_batch=2048) == "replicated", "no declared tables: replicated"


def test_a_user_model_without_embedding_tables_trains_replicated_and_is_told_so(tmp_path):
    from framework.config import load_config
    from framework.train.embeddings import settings_for_run

    class Schema:
        continuous = {"a": 0, "b": 0}
        categorical = {"c": 10, "d": 7}

    _, cfg = load_config("jobs/configs/train_small.yaml", [
        "model={name: tests.models.user_model:TinyModel}", "scaling.embeddings=row_wise", "scaling.memory_per_worker=1GiB"])
    lines = []
    settings = settings_for_run(cfg, Schema(), workers=2, use_gpu=False, log=lines.append)
    assert settings.placement == "replicated" and not settings.sharded
    assert any("declares no embedding tables" in line for line in lines), lines
