"""Distributed training on Ray Train: config, data path, worker loop, checkpoints.

Example:
    >>> from framework.config import load_config
    >>> from framework.train import run_training
    >>> _, cfg = load_config("jobs/configs/train_small.yaml", ["optim.epochs=1"], kind="train")
    >>> result = run_training(cfg)
    >>> result.bundle
"""

from framework.train.config import TrainConfig
from framework.train.trainer import TrainResult, run_training, scaling_config_kwargs

__all__ = ["TrainConfig", "TrainResult", "run_training", "scaling_config_kwargs"]
