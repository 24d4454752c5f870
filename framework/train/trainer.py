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
    model_version: str | None = None  # the registry version, when `registry.name` is set


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

    pipeline = FeaturePipeline.from_yaml_dict(cfg.features.model_dump())
    needed = {cfg.label, *pipeline.input_columns()}
    missing = sorted(needed - names)
    if missing:
        raise ConfigError(f"{cfg.data.contract}: the training config uses column(s) {missing}, which the contract does not name")
    leaked = sorted(c for c in needed if contract.column(c).role == "ignore" or
                    (contract.column(c).role == "pii" and not _salted_only(pipeline, c)))
    if leaked:
        raise ConfigError(f"features: column(s) {leaked} have role pii or ignore in {cfg.data.contract} and must not be "
                          "features (a pii column may only be read by a hash_bucket op with salt_env)")
    bad_slices = sorted(c for c in cfg.card.slices if c not in names or contract.column(c).role == "pii")
    if bad_slices:
        raise ConfigError(f"card.slices: {bad_slices} are not non-pii columns of {cfg.data.contract}")
    for split in ("train", "valid"):
        check_dataset(contract, getattr(cfg.data, split)).raise_if_failed()


def _salted_only(pipeline, column: str) -> bool:
    """Whether every op reading `column` is a hash_bucket with a secret salt."""
    readers = [op for op in pipeline.ops if column in op.fit_reads()]
    return all(op.op_name == "hash_bucket" and getattr(op, "salt_env", None) for op in readers)


def run_training(cfg: TrainConfig, fault_injection: dict | None = None) -> TrainResult:
    """Check, train, write the bundle; then register it (when `registry.name` is set) and audit the run."""
    from framework.train._driver import train_with_ray
    from framework.train.publish import publish_run
    from framework.train.suggested import resolve_features

    cfg = resolve_features(cfg, run_directory(cfg))  # features: {suggest: true}
    check_inputs(cfg)
    return publish_run(cfg, train_with_ray(cfg, fault_injection))
