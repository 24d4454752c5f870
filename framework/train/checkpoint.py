"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint directory holds `model.safetensors` (the dense weights, and the tables when they are
replicated), `optimizer.safetensors` plus `optimizer.json` (the dense optimizer's tensors and scalar
state, by parameter name), `rng.safetensors` (torch RNG) and `state.json` (epoch, step, metrics).
Sharded tables add `embeddings-<rank>.safetensors` and `.json` per worker (see shard_files): a run
resumes from them with any number of workers and any `scaling.embeddings`. Every worker writes its
files before it reports, and Ray Train registers the checkpoint only once all have reported.

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

__all__ = ["TrainingState", "save_checkpoint", "load_checkpoint", "read_state", "registered_checkpoints"]


@dataclass
class TrainingState:
    """Where training stands. `epoch` is the last finished epoch (-1 before the first);
    `batch_in_epoch` is how many batches of the next epoch were already trained (mid-epoch checkpoints)."""

    epoch: int = -1
    step: int = 0
    batch_in_epoch: int = 0
    resumed_from_steps: list = field(default_factory=list)  # where each resume picked up
    metrics: dict = field(default_factory=dict)


def _placed(model, optimizer):
    from framework.train.placed_model import PlacedModel, plain_placement

    return model if isinstance(model, PlacedModel) else plain_placement(model, optimizer)


def _split_optimizer_state(optimizer: torch.optim.Optimizer, names: list[str]) -> tuple[dict, dict]:
    """Tensors keyed `state.<parameter name>.<stat>`; everything else JSON, groups listing names."""
    state_dict = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state_dict["state"].items():
        for stat, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{names[index]}.{stat}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(names[index], {})[stat] = value
    groups = [{**group, "params": [names[i] for i in group["params"]]} for group in state_dict["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars, "keyed_by": "name"}


def _join_optimizer_state(tensors: dict, document: dict, optimizer: torch.optim.Optimizer, names: list[str]) -> tuple[dict, list]:
    """The optimizer's state dict from a saved one, matched by parameter name; also the names not found.

    Checkpoints from before names were kept are matched by position."""
    position = {name: index for index, name in enumerate(names)}
    saved_names = [name for group in document["param_groups"] for name in group["params"]]
    if document.get("keyed_by") != "name":  # written before names were kept: parameter i of the saved optimizer
        if len(saved_names) != len(names):  # another set of parameters (its tables were replicated, say)
            return optimizer.state_dict(), list(names)
        saved_names = [names[int(i)] for i in saved_names]
        tensors = {f"state.{names[int(k.split('.')[1])]}.{k.split('.', 2)[2]}": v for k, v in tensors.items()}
        document = {**document, "scalars": {names[int(k)]: v for k, v in document["scalars"].items()}}
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        name, stat = key[len("state."):].rsplit(".", 1)
        if name in position:
            state.setdefault(position[name], {})[stat] = value
    for name, values in document["scalars"].items():
        if name in position:
            state.setdefault(position[name], {}).update(values)
    current, saved_groups = optimizer.state_dict()["param_groups"], document["param_groups"]
    if len(saved_groups) == len(current):  # the saved hyperparameters, over today's parameters
        current = [{**saved, "params": group["params"]} for saved, group in zip(saved_groups, current)]
    missing = sorted(set(names) - set(saved_names))
    return {"state": state, "param_groups": current}, missing


def save_checkpoint(directory: str | os.PathLike, model, optimizer, state: TrainingState, rank: int = 0) -> Path:
    """Write this worker's part of a checkpoint: its embedding shards (sharded tables), and on rank 0
    the dense weights, the dense optimizer, the RNG and, last, state.json. `model` is a module (with
    its `optimizer`) or a PlacedModel (optimizer None)."""
    from framework.train.shard_files import write_shards

    placed = _placed(model, optimizer)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_shards(directory, rank, placed.shards(), placed.fused_optimizer_name)
    if rank != 0:
        return directory
    save_file({k: v.detach().to("cpu").contiguous() for k, v in placed.dense_state().items()}, directory / "model.safetensors")
    tensors, document = _split_optimizer_state(placed.optimizer, placed.parameter_names)
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


def _load_weights(directory: Path, placed) -> list[str]:
    """Dense weights from model.safetensors; tables from it or from the shard files, region by region
    (each worker reads only what it now holds). Returns the optimizer states that were not saved."""
    from safetensors import safe_open

    from framework.train.shard_files import ShardIndex

    tables = set(placed.table_keys())
    index = ShardIndex.of(directory, full_tables=tables)
    targets = placed.dense_state()
    with safe_open(str(directory / "model.safetensors"), framework="pt") as saved:
        keys = set(saved.keys())
        for key, target in targets.items():
            table = key.rsplit(".", 1)[0]
            if table in tables:  # a whole table: from model.safetensors or the shards, region by region
                found = index.read_into(target, table, "weight", (0, 0))
            elif key in keys:
                target.copy_(saved.get_tensor(key))
                found = True
            else:
                found = False
            if not found:
                raise ArtifactError(f"{directory}: the checkpoint has no {key!r}; was it written by another model?")
    unknown = sorted(k for k in keys if k not in targets and k.rsplit(".", 1)[0] not in tables)
    if unknown:
        raise ArtifactError(f"{directory}: the checkpoint has weights the model does not: {unknown[:5]}")
    fresh = []
    for shard in placed.shards():
        if not index.read_into(shard.data, shard.table, shard.tensor, shard.offsets, shard.columns, placed.fused_optimizer_name):
            if shard.tensor == "weight":
                raise ArtifactError(f"{directory}: the checkpoint has no rows of table {shard.table!r}")
            fresh.append(f"{shard.table}.{shard.tensor}")
    return fresh


def load_checkpoint(directory: str | os.PathLike, model, optimizer=None, restore_rng: bool = True) -> TrainingState:
    """Load weights (and optimizer and RNG state) into the given objects; return the TrainingState.

    `model` is a module (with its `optimizer`, or None for weights only) or a PlacedModel. The
    checkpoint may come from any number of workers and any placement of the tables; state that the
    new placement keeps and the old one did not (a switch of optimizer) starts fresh, and says so."""
    directory = Path(directory)
    state = read_state(directory)
    placed = _placed(model, optimizer)
    fresh = _load_weights(directory, placed)
    if placed.optimizer is not None:
        document = json.loads((directory / "optimizer.json").read_text())
        saved, missing = _join_optimizer_state(load_file(directory / "optimizer.safetensors"), document,
                                               placed.optimizer, placed.parameter_names)
        placed.optimizer.load_state_dict(saved)
        fresh += missing
    if fresh:
        print(f"[train] optimizer state not in the checkpoint, starting fresh: {', '.join(sorted(set(fresh))[:6])}"
              f"{' ...' if len(set(fresh)) > 6 else ''}", flush=True)
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
