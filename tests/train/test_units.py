"""Training pieces that need no Ray cluster: scaling, checkpoints, schedules, metrics, configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from framework.config import load_config
from framework.errors import ConfigError
from framework.train.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from framework.train.config import ScalingSection
from framework.train.evaluation import gather_predictions, validation_metrics
from framework.train.loop import LoopSettings, lr_factor, make_optimizer, train_epoch
from framework.train.placed_model import plain_placement
from framework.train.scaling import scaling_config_kwargs, torch_config as _torch_config

SMALL = "jobs/configs/train_small.yaml"


def test_scaling_maps_to_ray_scaling_config():
    from ray.train import ScalingConfig

    cpu = scaling_config_kwargs(ScalingSection(num_workers=2, resources_per_worker={"CPU": 0.5}), cluster_gpus=0)
    assert cpu == {"num_workers": 2, "use_gpu": False, "resources_per_worker": {"CPU": 0.5}}
    assert scaling_config_kwargs(ScalingSection(num_workers=4), cluster_gpus=8)["use_gpu"] is True
    assert scaling_config_kwargs(ScalingSection(num_workers=4, use_gpu=False), cluster_gpus=8)["use_gpu"] is False
    elastic = scaling_config_kwargs(ScalingSection(num_workers=(1, 4)), cluster_gpus=0)
    assert elastic["num_workers"] == (1, 4) and ScalingConfig(**elastic).elasticity_enabled
    tpu = scaling_config_kwargs(
        ScalingSection(num_workers=4, accelerator="tpu", topology="2x2x1", accelerator_type="TPU-V4"), cluster_gpus=0
    )
    assert tpu == {"num_workers": 4, "use_gpu": False, "use_tpu": True, "topology": "2x2x1", "accelerator_type": "TPU-V4"}
    config = ScalingConfig(**tpu)
    assert config.use_tpu and config.topology == "2x2x1"
    with pytest.raises(ConfigError, match="contradicts use_gpu: false"):
        scaling_config_kwargs(ScalingSection(accelerator="gpu", use_gpu=False), cluster_gpus=0)


def test_tpu_without_torch_xla_is_a_clear_error():
    pytest.importorskip("ray")
    try:
        import torch_xla  # noqa: F401

        pytest.skip("torch_xla is installed here")
    except ImportError:
        pass
    with pytest.raises(ConfigError, match="torch_xla"):
        _torch_config(True)
    assert _torch_config(False) is None


def test_checkpoint_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    optimizer = make_optimizer(model, {"optimizer": "adam", "lr": 0.01, "weight_decay": 0.0, "momentum": 0.0})
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(16, 4)).pow(2).mean().backward()
        optimizer.step()
    save_checkpoint(tmp_path, model, optimizer, TrainingState(epoch=1, step=3, metrics={"auc": 0.7}))
    expected_next = torch.rand(3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model.safetensors", "optimizer.json", "optimizer.safetensors", "rng.safetensors", "state.json"
    ]
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    fresh_optimizer = make_optimizer(fresh, {"optimizer": "adam", "lr": 0.01, "weight_decay": 0.0, "momentum": 0.0})
    state = load_checkpoint(tmp_path, fresh, fresh_optimizer)
    assert (state.epoch, state.step, state.metrics) == (1, 3, {"auc": 0.7})
    assert torch.equal(torch.rand(3), expected_next), "the RNG state was not restored"
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    # the optimizer continues exactly as the original would
    batch = torch.randn(16, 4)
    for m, o in ((model, optimizer), (fresh, fresh_optimizer)):
        o.zero_grad()
        m(batch).pow(2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)


class _TwoInputLinear(torch.nn.Module):
    """The loop's model signature, model(continuous, categorical), with no categorical columns used."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 1)

    def forward(self, continuous, categorical):
        return self.linear(continuous).squeeze(1)


def test_train_epoch_totals_match_a_plain_torch_replay():
    generator = torch.Generator().manual_seed(1)
    batches = [
        {"continuous": torch.randn(rows, 3, generator=generator), "categorical": torch.zeros((rows, 0), dtype=torch.int64),
         "label": (torch.rand(rows, generator=generator) > 0.5).float()}
        for rows in (8, 8, 5)
    ]
    optim = {"optimizer": "sgd", "lr": 0.1, "weight_decay": 0.0, "momentum": 0.0, "epochs": 1,
             "lr_schedule": "constant", "warmup_steps": 0}
    settings = LoopSettings(model_config={}, num_continuous=3, cardinalities=[], optim=optim, seed=0, steps_per_epoch=3)
    torch.manual_seed(0)
    model = _TwoInputLinear()
    replay = _TwoInputLinear()
    replay.load_state_dict(model.state_dict())
    state = TrainingState()
    placed = plain_placement(model, make_optimizer(model, optim))
    epoch = train_epoch(placed, batches, state, settings, lambda _: None)

    replay_optimizer = torch.optim.SGD(replay.parameters(), lr=0.1)
    losses = []
    for batch in batches:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(replay(batch["continuous"], None), batch["label"])
        replay_optimizer.zero_grad()
        loss.backward()
        replay_optimizer.step()
        losses.append(loss.item())
    assert (epoch.batches, epoch.samples, state.step, state.batch_in_epoch) == (3, 21, 3, 3)
    assert epoch.loss_sum == pytest.approx(sum(losses), rel=1e-12)
    assert torch.equal(model.linear.weight, replay.linear.weight)


def test_lr_schedules():
    optim = {"lr_schedule": "cosine", "warmup_steps": 10}
    assert lr_factor(0, optim, 110) == pytest.approx(0.1)
    assert lr_factor(10, optim, 110) == pytest.approx(1.0)
    assert lr_factor(60, optim, 110) == pytest.approx(0.5)
    assert lr_factor(110, optim, 110) == pytest.approx(0.0)
    assert lr_factor(50, {"lr_schedule": "linear", "warmup_steps": 0}, 100) == pytest.approx(0.5)
    assert lr_factor(50, {"lr_schedule": "constant", "warmup_steps": 0}, 100) == 1.0


def test_validation_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 5000).astype(float)
    probabilities = np.clip(rng.random(5000) * 0.5 + labels * 0.3, 0.01, 0.99)
    metrics = validation_metrics(labels, probabilities, probabilities * 0.9)
    assert metrics["auc"] == pytest.approx(roc_auc_score(labels, probabilities), abs=1e-12)
    assert metrics["logloss"] == pytest.approx(log_loss(labels, probabilities), abs=1e-9)
    assert metrics["bayes_auc"] == pytest.approx(roc_auc_score(labels, probabilities * 0.9), abs=1e-12)
    assert "bayes_auc" not in validation_metrics(labels, probabilities, np.full(5000, np.nan))
    local = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    assert torch.equal(gather_predictions(local), local)  # one process: nothing to gather


def test_shipped_training_configs_validate():
    for path in (SMALL, "jobs/configs/train_gpu.yaml"):
        kind, cfg = load_config(path)
        assert kind == "train" and cfg.run.name


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.name=transformer_xl", "known models"),
        ("optim.lr=-0.1", "optim.lr: got -0.1; input should be greater than 0"),
        ("scaling.num_workers=[3, 1]", "scaling.num_workers"),
        ("run.checkpoint.mode=best", "run.checkpoint.mode: got 'best'"),
        ("model.embedding_dim=-4", "model.embedding_dim"),
    ],
)
def test_bad_training_configs(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(SMALL, [override], kind="train")


def test_a_column_missing_from_the_contract_is_refused(tmp_path):
    from framework.data.generate import synthetic_contract
    from framework.data.contract import save_contract
    from framework.train.trainer import check_inputs

    save_contract(synthetic_contract(), tmp_path / "contract.yaml")
    _, cfg = load_config(SMALL, [f"data.contract={tmp_path / 'contract.yaml'}", "features.ops.0.columns=[I1, I99]"])
    with pytest.raises(ConfigError, match=r"I99"):
        check_inputs(cfg)
    _, cfg = load_config(SMALL, [f"data.contract={tmp_path / 'contract.yaml'}", "features.ops.0.columns=[user_email]"])
    with pytest.raises(ConfigError, match="pii or ignore"):
        check_inputs(cfg)


def test_data_cache_auto_caches_what_fits_a_quarter_of_the_object_store():
    from types import SimpleNamespace

    from framework.train.data import cache_in_object_store

    schema = SimpleNamespace(continuous=["I1", "I2"], categorical={"C1": 10, "C2": 20, "C3": 30})
    row_bytes = 4 * 2 + 8 * 3 + 4 + 8  # float32 continuous, int64 categorical, float32 label, float64 p_true
    store = 4 * 1000 * row_bytes  # a quarter of it holds exactly 1,000 rows
    assert cache_in_object_store("auto", 1000, schema, store) is True
    assert cache_in_object_store("auto", 1001, schema, store) is False
    assert cache_in_object_store("auto", 1000, schema, store, nodes=2) is False  # a lost node loses blocks
    assert cache_in_object_store(True, 1000, schema, store, nodes=2) is True
    assert cache_in_object_store(True, 10**9, schema, store) is True
    assert cache_in_object_store(False, 1, schema, store) is False
    _, cfg = load_config(SMALL, ["data.cache=false"])
    assert cfg.data.cache is False and load_config(SMALL)[1].data.cache == "auto"


def test_data_transform_auto_runs_in_the_workers_only_when_they_have_gpus():
    from framework.train.data import transform_in_workers

    assert transform_in_workers("auto", workers_use_gpu=True) is True
    assert transform_in_workers("auto", workers_use_gpu=False) is False
    assert transform_in_workers("workers", workers_use_gpu=False) is True
    assert transform_in_workers("tasks", workers_use_gpu=True) is False
    with pytest.raises(ConfigError, match="data.transform"):
        load_config(SMALL, ["data.transform=gpu"])


ON_A_GPU = pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")])


@pytest.mark.parametrize("device", ["cpu", ON_A_GPU])
@pytest.mark.parametrize("out_of_fold", [False, True])
def test_model_tensors_equal_model_arrays(tmp_path, monkeypatch, out_of_fold, device):
    """What a worker transforms for itself (on a GPU: with the GPU kernels, kept on the device) equals
    what a Ray Data task hands it."""
    from framework.data import read_table
    from framework.data.generate import GenerateRequest, write_synthetic_dataset
    from framework.features import FeaturePipeline
    from framework.train.data import model_arrays, model_tensors

    write_synthetic_dataset(tmp_path / "d", GenerateRequest(rows=3000, seed=4, files_per_day=1))
    table = read_table(tmp_path / "d")
    _, cfg = load_config(SMALL, [f"data.train={tmp_path / 'd'}"])
    pipeline = FeaturePipeline.from_yaml_dict(cfg.features.model_dump(mode="json")).fit(table)
    monkeypatch.setenv("RAYLANE_DEVICE", "cpu")
    arrays = model_arrays(pipeline, table, "label", out_of_fold)
    monkeypatch.setenv("RAYLANE_DEVICE", "gpu" if device == "cuda" else "cpu")
    tensors = model_tensors(pipeline, table, "label", out_of_fold, torch.device(device))
    assert set(tensors) == set(arrays) == {"continuous", "categorical", "label", "p_true"}
    for name, expected in arrays.items():
        assert tensors[name].device.type == device and tensors[name].dtype == torch.from_numpy(expected).dtype, name
        if name == "continuous" and device == "cuda":  # GPU float kernels: within FEATURES.md's 1e-6 relative on the GPU
            np.testing.assert_allclose(tensors[name].cpu().numpy(), expected, rtol=1e-6, atol=1e-7, err_msg=name)
        else:
            np.testing.assert_array_equal(tensors[name].cpu().numpy(), expected, err_msg=name)
    assert np.isfinite(arrays["continuous"]).all()
