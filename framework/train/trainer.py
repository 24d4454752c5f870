"""The driver side of a training run: check data, fit features, run Ray Train, write the bundle.

Example:
    >>> result = run_training(config)          # a TrainConfig
    >>> result.bundle                           # runs/<name>/bundle
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from framework.data import check_dataset, load_contract
from framework.errors import ConfigError
from framework.train.config import ScalingSection, TrainConfig

__all__ = ["TrainResult", "run_training", "scaling_config_kwargs", "run_directory"]


@dataclass(frozen=True)
class TrainResult:
    bundle: Path
    metrics: dict
    run_directory: Path


def run_directory(cfg: TrainConfig) -> Path:
    return Path(cfg.run.storage_path).expanduser().absolute() / cfg.run.name


def scaling_config_kwargs(section: ScalingSection, cluster_gpus: float) -> dict:
    """ScalingConfig arguments for the config: `auto` uses GPUs when the cluster has them."""
    accelerator = section.accelerator
    if accelerator == "auto":
        wants_gpu = section.use_gpu is True or (section.use_gpu == "auto" and cluster_gpus > 0)
        accelerator = "gpu" if wants_gpu else "cpu"
    if accelerator == "gpu" and section.use_gpu is False:
        raise ConfigError("scaling: accelerator: gpu contradicts use_gpu: false")
    num_workers = tuple(section.num_workers) if isinstance(section.num_workers, tuple) else section.num_workers
    kwargs: dict = {"num_workers": num_workers, "use_gpu": accelerator == "gpu"}
    if section.resources_per_worker:
        kwargs["resources_per_worker"] = dict(section.resources_per_worker)
    if accelerator == "tpu":
        kwargs.update(use_gpu=False, use_tpu=True, topology=section.topology, accelerator_type=section.accelerator_type)
    elif section.accelerator_type:
        kwargs["accelerator_type"] = section.accelerator_type
    return kwargs


def _torch_config(accelerator_is_tpu: bool):
    if not accelerator_is_tpu:
        return None  # TorchConfig picks nccl with GPUs, gloo without
    try:
        import torch_xla  # noqa: F401
    except ImportError:
        raise ConfigError(
            "scaling.accelerator: tpu needs torch_xla on every node (pip install torch_xla[tpu]); it is not installed here"
        ) from None
    from ray.train.torch.xla import TorchXLAConfig

    return TorchXLAConfig()


def check_inputs(cfg: TrainConfig) -> None:
    """Contract checks before anything is trained: the data, the label and every feature input."""
    contract = load_contract(cfg.data.contract)
    names = set(contract.names())
    from framework.features import FeaturePipeline

    needed = {cfg.label, *FeaturePipeline.from_yaml_dict(cfg.features.model_dump()).input_columns()}
    missing = sorted(needed - names)
    if missing:
        raise ConfigError(f"{cfg.data.contract}: the training config uses column(s) {missing}, which the contract does not name")
    leaked = sorted(c for c in needed if contract.column(c).role in ("pii", "ignore"))
    if leaked:
        raise ConfigError(f"features: column(s) {leaked} have role pii or ignore in {cfg.data.contract} and must not be features")
    for split in ("train", "valid"):
        check_dataset(contract, getattr(cfg.data, split)).raise_if_failed()


def run_training(cfg: TrainConfig, fault_injection: dict | None = None) -> TrainResult:
    from framework.train._driver import train_with_ray

    check_inputs(cfg)
    return train_with_ray(cfg, fault_injection)
