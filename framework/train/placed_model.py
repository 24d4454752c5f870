"""The model a worker trains, placed as `scaling.embeddings` says, with its optimizers.

`place_model` builds the model and either hands it to the session (replicated: Ray Train's
`prepare_model`, i.e. DDP) or shards its `EmbeddingTables` with TorchRec (never wrapped a second
time by `prepare_model`). `PlacedModel` is what the loop and the checkpoints see either way: the
module to call, the dense optimizer (`optim.optimizer`), the fused table optimizer (or None), and
the tensors a checkpoint holds.

Example:
    >>> placed = place_model(settings, session)                     # doctest: +SKIP
    >>> logits = placed.model(continuous, categorical)              # doctest: +SKIP
    >>> placed.set_lr_factor(0.5)                                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from framework.train.embeddings import (
    EmbeddingSettings, check_fits, check_optimizer_device, declared_tables, require_torchrec, resolve_budget,
)

__all__ = ["PlacedModel", "place_model", "plain_placement", "make_optimizer"]


def make_optimizer(parameters, optim: dict) -> torch.optim.Optimizer:
    """`optim.optimizer` over the given parameters (or a module's)."""
    params = list(parameters.parameters() if isinstance(parameters, nn.Module) else parameters)
    lr, decay = optim["lr"], optim["weight_decay"]
    if optim["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if optim["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    if optim["optimizer"] == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=decay)
    return torch.optim.SGD(params, lr=lr, weight_decay=decay, momentum=optim["momentum"])


@dataclass
class PlacedModel:
    """A worker's model and optimizers. `parameter_names[i]` names the i-th parameter of `optimizer`
    (plain state-dict names, so checkpoints map between placements by name)."""

    model: nn.Module
    device: torch.device
    optimizer: torch.optim.Optimizer
    parameter_names: list[str]
    fused_optimizer: object | None = None
    components: list = field(default_factory=list)  # [(path, EmbeddingTables)] when sharded
    num_params: int = 0
    owns_process_group: bool = False
    plan_text: str = ""
    fused_optimizer_name: str | None = None  # optim.embeddings.optimizer, when sharded
    _lr_factor: float | None = None

    @property
    def sharded(self) -> bool:
        return self.fused_optimizer is not None

    @property
    def module(self) -> nn.Module:
        """The model without its DDP wrapper (a sharded model's still runs collectives)."""
        model = self.model
        return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model

    def dense_state(self) -> dict[str, torch.Tensor]:
        """Every tensor of the model except sharded tables, by plain state-dict name (views)."""
        return {key: value for key, value in self.module.state_dict().items() if not hasattr(value, "local_shards")}

    def table_keys(self) -> list[str]:
        """The plain prefixes of every declared table (`inputs.embeddings.3`)."""
        from framework.models import embedding_tables_of

        components = self.components or embedding_tables_of(self.module)
        return [f"{path}.{j}" if path else str(j) for path, tables in components for j in range(len(tables))]

    def shards(self, optimizer_state: bool = True) -> list:
        """The table pieces (and their optimizer state) this worker holds; none when replicated."""
        if not self.sharded:
            return []
        from framework.train._torchrec import local_shards

        return list(local_shards(self.model, self.components, optimizer_state))

    def set_lr_factor(self, factor: float, optim: dict) -> None:
        """The schedule's factor applied to both learning rates (dense `optim.lr`, tables `optim.embeddings.lr`)."""
        for group in self.optimizer.param_groups:
            group["lr"] = optim["lr"] * factor
        if self.fused_optimizer is not None and factor != self._lr_factor:
            self._lr_factor = factor
            for group in self.fused_optimizer.param_groups:
                group["lr"] = optim["embeddings"]["lr"] * factor
            self.fused_optimizer.step()  # a fused optimizer only applies its lr in step(); the update is in backward

    def set_step(self, step: int) -> None:
        """Tell the fused optimizer the global step (Adam's bias correction) after a resume."""
        setter = getattr(self.fused_optimizer, "set_optimizer_step", None)
        if setter is not None:
            setter(step)

    def close(self) -> None:
        if self.owns_process_group:
            import torch.distributed as dist

            dist.destroy_process_group()


def plain_placement(model: nn.Module, optimizer: torch.optim.Optimizer | None, device: torch.device | None = None) -> PlacedModel:
    """A replicated (or single-process) model and its optimizer over all of its parameters."""
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    names = [name for name, _ in inner.named_parameters()]
    return PlacedModel(model, device or torch.device("cpu"), optimizer, names, num_params=sum(p.numel() for p in inner.parameters()))


def _ensure_process_group(device: torch.device) -> tuple[int, bool]:
    """(world size, whether this call created the group). A single process (a Tune trial in its own
    process, Ray Train's in-process mode) gets a one-member group: TorchRec shards through one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    return 1, True


def _check_fits(settings, placement: EmbeddingSettings, session) -> None:
    import torch.distributed as dist

    device = session.device()
    check_optimizer_device(placement.optimizer["optimizer"], placement.placement, device.type == "cuda")
    budget = resolve_budget(placement.memory_per_worker, device)
    workers = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    check_fits(declared_tables(settings.model_config, settings.num_continuous, settings.cardinalities),
               placement.placement, workers=workers, budget=budget, embedding_optimizer=placement.optimizer["optimizer"],
               dense_optimizer=settings.optim["optimizer"], input_names=placement.input_names)


def place_model(settings, session) -> PlacedModel:
    """Build the run's model and place it: replicated through the session, or sharded by TorchRec."""
    from framework.models import build_model, embedding_tables_of, tables_on_meta, validate_model_config

    config = validate_model_config(settings.model_config)
    placement = EmbeddingSettings.from_dict(settings.embeddings)
    if placement.optimizer:  # the driver checked too; a GPU worker measures its own memory here
        _check_fits(settings, placement, session)
    if not placement.sharded:
        model = build_model(config, settings.num_continuous, settings.cardinalities, seed=settings.seed)
        num_params = sum(p.numel() for p in model.parameters())
        model, device = session.prepare(model)
        placed = plain_placement(model, make_optimizer(model.parameters(), settings.optim), device)
        placed.num_params = num_params
        return placed
    with tables_on_meta():
        model = build_model(config, settings.num_continuous, settings.cardinalities, seed=settings.seed)
    components = embedding_tables_of(model)
    num_params = sum(p.numel() for p in model.parameters())
    require_torchrec(placement.placement)
    device = session.device()
    world_size, owns_group = _ensure_process_group(device)
    from framework.train._torchrec import shard_model

    sharded = shard_model(model, placement, device, world_size)
    names = [name for name, _ in sharded.dense_parameters]
    optimizer = make_optimizer((p for _, p in sharded.dense_parameters), settings.optim)
    return PlacedModel(sharded.model, device, optimizer, names, sharded.fused_optimizer, components,
                       num_params, owns_group, sharded.plan_text, placement.optimizer["optimizer"])
