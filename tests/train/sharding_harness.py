"""Worker processes for the sharded-embedding tests: plain gloo process groups, no Ray.

Each run trains `STEPS` global batches through framework.train's own pieces (place_model,
train_epoch, save_checkpoint / load_checkpoint) on `world` processes, each taking its contiguous
slice of every global batch, and leaves a checkpoint behind. The tests compare the weights such
runs end with, read back into a plain model.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import torch
import torch.multiprocessing as mp

CONTINUOUS = 3
CARDINALITIES = [50, 200, 7, 1000, 33]
MODEL = {"name": "dlrm", "embedding_dim": 8, "bottom_mlp": [16, 8], "top_mlp": [16]}
GLOBAL_BATCH = 64
OPTIM = {"optimizer": "adam", "lr": 0.01, "weight_decay": 0.0, "momentum": 0.0, "epochs": 1,
         "lr_schedule": "constant", "warmup_steps": 0, "batch_size": GLOBAL_BATCH,
         "embeddings": {"optimizer": "rowwise_adagrad", "lr": 0.1, "eps": 1e-8, "weight_decay": 0.0}}


def global_batches(first: int, count: int) -> list[dict]:
    """Global batches `first .. first+count-1`, each seeded by its number (so any split sees the same rows)."""
    batches = []
    for number in range(first, first + count):
        generator = torch.Generator().manual_seed(1000 + number)
        categorical = torch.stack([torch.randint(0, c, (GLOBAL_BATCH,), generator=generator) for c in CARDINALITIES], 1)
        categorical[:, 3] = torch.randint(0, 20, (GLOBAL_BATCH,), generator=generator)  # repeated rows in a batch
        batches.append({
            "continuous": torch.randn(GLOBAL_BATCH, CONTINUOUS, generator=generator),
            "categorical": categorical,
            "label": (torch.rand(GLOBAL_BATCH, generator=generator) > 0.5).float(),
        })
    return batches


def slice_for(batch: dict, rank: int, world: int) -> dict:
    size = GLOBAL_BATCH // world
    return {key: value[rank * size: (rank + 1) * size] for key, value in batch.items()}


@dataclass
class Run:
    placement: str
    world: int
    first_step: int
    steps: int
    checkpoint_out: str
    checkpoint_in: str | None = None
    optimizer: str = "rowwise_adagrad"
    memory_per_worker: int | None = None


def loop_settings(run: Run):
    from framework.train.loop import LoopSettings

    optim = {**OPTIM, "embeddings": {**OPTIM["embeddings"], "optimizer": run.optimizer}}
    embeddings = {"placement": run.placement, "optimizer": optim["embeddings"], "memory_per_worker": run.memory_per_worker}
    return LoopSettings(model_config=MODEL, num_continuous=CONTINUOUS, cardinalities=CARDINALITIES, optim=optim,
                        seed=0, steps_per_epoch=run.steps, embeddings=embeddings)


def _worker(rank: int, run: Run, init_file: str) -> None:
    import torch.distributed as dist

    from framework.train.checkpoint import TrainingState, load_checkpoint, save_checkpoint
    from framework.train.loop import ProcessGroupSession, train_epoch
    from framework.train.placed_model import place_model

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=run.world)
    torch.manual_seed(0)
    settings = loop_settings(run)
    placed = place_model(settings, ProcessGroupSession())
    state = TrainingState()
    if run.checkpoint_in:
        state = load_checkpoint(run.checkpoint_in, placed, restore_rng=False)
        placed.set_step(state.step)
        state.batch_in_epoch = 0  # the harness's batches continue where the last run stopped
    batches = [slice_for(batch, rank, run.world) for batch in global_batches(run.first_step, run.steps)]
    train_epoch(placed, batches, state, settings, lambda _: None)
    os.makedirs(run.checkpoint_out, exist_ok=True)
    save_checkpoint(run.checkpoint_out, placed, None, state, rank=rank)
    _write_live_predictions(placed, rank, os.path.join(run.checkpoint_out, "predictions.json"))
    dist.barrier()
    dist.destroy_process_group()


def _write_live_predictions(placed, rank: int, path: str) -> None:
    """The trained model's own scores of global batch 99 (every worker takes part in sharded lookups)."""
    import json

    batch = global_batches(99, 1)[0]
    placed.module.eval()
    with torch.no_grad():
        scores = torch.sigmoid(placed.module(batch["continuous"], batch["categorical"])).tolist()
    if rank == 0:
        with open(path, "w") as handle:
            json.dump(scores, handle)


def train(run: Run) -> str:
    """Run `run` on `run.world` spawned processes; returns its checkpoint directory."""
    with tempfile.TemporaryDirectory() as scratch:
        mp.start_processes(_worker, args=(run, os.path.join(scratch, "init")), nprocs=run.world, start_method="spawn")
    return run.checkpoint_out


def plain_weights(checkpoint: str) -> dict[str, torch.Tensor]:
    """The checkpoint's weights read back into a plain (unsharded) model: every table whole."""
    from framework.models import build_model
    from framework.train.checkpoint import load_checkpoint

    model = build_model(MODEL, CONTINUOUS, CARDINALITIES, seed=0)
    load_checkpoint(checkpoint, model, restore_rng=False)
    return {key: value.clone() for key, value in model.state_dict().items()}
