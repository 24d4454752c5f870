"""Ray Train's ScalingConfig and TorchConfig from the `scaling:` section (the one translation).

Example:
    >>> scaling_config_kwargs(cfg.scaling, cluster_gpus=0)    # doctest: +SKIP
    {'num_workers': 2, 'use_gpu': False, 'resources_per_worker': {'CPU': 0.5}}
"""

from __future__ import annotations

from framework.errors import ConfigError
from framework.train.config import ScalingSection

__all__ = ["scaling_config_kwargs", "torch_config"]


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


def torch_config(accelerator_is_tpu: bool):
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
