"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint directory holds `model.safetensors` (weights), `optimizer.safetensors` plus
`optimizer.json` (the optimizer's tensors and its scalar state), `rng.safetensors` (torch RNG) and
`state.json` (epoch, step, metrics). It is complete before Ray Train copies it to storage: Ray only
sees it after `save_checkpoint` returns.

Example:
    >>> save_checkpoint(tmp, model, optimizer, TrainingState(epoch=0, step=120))
    >>> state = load_checkpoint(tmp, model, optimizer)
    >>> state.step
    120
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from framework.errors import ArtifactError

__all__ = ["TrainingState", "save_checkpoint", "load_checkpoint", "unwrap", "model_state_dict", "registered_checkpoints"]


@dataclass
class TrainingState:
    """Where training stands. `epoch` is the last finished epoch (-1 before the first);
    `batch_in_epoch` is how many batches of the next epoch were already trained (mid-epoch checkpoints)."""

    epoch: int = -1
    step: int = 0
    batch_in_epoch: int = 0
    resumed_from_steps: list = field(default_factory=list)  # where each resume picked up
    metrics: dict = field(default_factory=dict)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper, or the model itself."""
    return model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model


def model_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in unwrap(model).state_dict().items()}


def _split_optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Tensors keyed `state.<param>.<name>`; everything else JSON."""
    state_dict = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _join_optimizer_state(tensors: dict, document: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, values in document["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": document["param_groups"]}


def save_checkpoint(directory: str | os.PathLike, model, optimizer, state: TrainingState) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(model_state_dict(model), directory / "model.safetensors")
    tensors, document = _split_optimizer_state(optimizer)
    save_file(tensors, directory / "optimizer.safetensors")
    (directory / "optimizer.json").write_text(json.dumps(document))
    save_file({"torch": torch.get_rng_state()}, directory / "rng.safetensors")
    # state.json last: a directory without it is incomplete and is never resumed from
    (directory / "state.json").write_text(json.dumps(asdict(state), indent=2))
    return directory


def read_state(directory: str | os.PathLike) -> TrainingState:
    path = Path(directory) / "state.json"
    if not path.exists():
        raise ArtifactError(f"{directory}: incomplete checkpoint (state.json is missing)")
    return TrainingState(**json.loads(path.read_text()))


def load_checkpoint(directory: str | os.PathLike, model, optimizer=None, restore_rng: bool = True) -> TrainingState:
    """Load weights (and optimizer and RNG state) into the given objects; return the TrainingState."""
    directory = Path(directory)
    state = read_state(directory)
    unwrap(model).load_state_dict(load_file(directory / "model.safetensors"))
    if optimizer is not None:
        document = json.loads((directory / "optimizer.json").read_text())
        optimizer.load_state_dict(_join_optimizer_state(load_file(directory / "optimizer.safetensors"), document))
    if restore_rng:
        torch.set_rng_state(load_file(directory / "rng.safetensors")["torch"])
    return state


def registered_checkpoints(run_directory: str | os.PathLike) -> list[str]:
    """The checkpoint directory names Ray Train has registered for a run (its snapshot, which a rerun or a
    restarted worker group resumes from); a reported checkpoint is registered at the controller's next poll."""
    snapshot = Path(run_directory) / "checkpoint_manager_snapshot.json"
    try:
        results = json.loads(snapshot.read_text())["checkpoint_results"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return []
    return [result["checkpoint_dir_name"] for result in results]
