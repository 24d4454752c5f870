"""The driver side of a training run: check data, fit features, run Ray Train, write the bundle.

Example:
    >>> result = run_training(config)          # a TrainConfig
    >>> result.bundle                           # runs/<name>/bundle
"""

from __future__ import annotations

from framework.data import check_dataset, load_contract
from framework.errors import ConfigError
from framework.train.config import TrainConfig
from framework.train.result import TrainResult, run_directory
from framework.train.scaling import scaling_config_kwargs

__all__ = ["TrainResult", "check_inputs", "run_training", "run_directory", "scaling_config_kwargs"]


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
