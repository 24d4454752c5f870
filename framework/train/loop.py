"""The per-worker training loop. Plain functions over batch iterables; Ray only behind a session.

`run_loop(settings, session)` trains through a small session object (rank, device, dataset shards,
report, resume). The model is placed by `placed_model.place_model` (`scaling.embeddings`): replicated
through the session's `prepare`, or with its tables sharded by TorchRec. `RayTrainSession` is Ray
Train's, used by `train_loop_per_worker`; a Tune trial that trains in its own process passes one that
reports to Ray Tune (framework.tune). Every worker calls `report` the same number of times (Ray
Train's is a barrier); rank 0 writes the checkpoint, and with sharded tables every worker adds the
shards it holds.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from framework.train.batches import cut_batches, fixed_size_batches
from framework.train.checkpoint import TrainingState, load_checkpoint, registered_checkpoints, save_checkpoint
from framework.train.evaluation import gather_predictions, validation_metrics
from framework.train.placed_model import PlacedModel, make_optimizer, place_model
from framework.watchdog import beat

__all__ = ["LoopSettings", "RayTrainSession", "ProcessGroupSession", "run_loop", "train_loop_per_worker", "make_optimizer", "lr_factor"]
REPLICATED = {"placement": "replicated", "optimizer": {}, "memory_per_worker": None}

PROGRESS_EVERY_STEPS = 50
BATCH_DTYPES = {"continuous": torch.float32, "categorical": torch.int64, "label": torch.float32, "p_true": torch.float64}


@dataclass
class LoopSettings:
    """Everything a worker needs, as plain data (it travels to the workers as a dict)."""

    model_config: dict
    num_continuous: int
    cardinalities: list[int]
    optim: dict
    seed: int
    steps_per_epoch: int
    checkpoint_every_n_steps: int | None = None
    metric: str = "auc"
    mode: str = "max"
    fault_injection: dict | None = field(default=None)  # tests: {"step", "marker"[, "after_checkpoints", "stall"]}
    checkpoint_every_epoch: bool = True  # sweep trials that never resume skip the per-epoch save
    worker_transform: dict | None = None  # {"pipeline_dir", "label"}: shards hold raw columns (data.transform)
    embeddings: dict = field(default_factory=lambda: dict(REPLICATED))  # framework.train.embeddings.EmbeddingSettings
    progress_beacon: str | None = None  # the driver's stall watchdog: every batch read counts as progress
    print_lines: bool = True  # rank 0's [train] lines; a sweep's trials leave the story to the driver's [sweep] lines

    def to_dict(self) -> dict:
        return asdict(self)


def lr_factor(step: int, optim: dict, total_steps: int) -> float:
    """Warmup then the schedule, as a function of the global step (so resuming needs no state)."""
    warmup = optim["warmup_steps"]
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    if optim["lr_schedule"] == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if optim["lr_schedule"] == "linear":
        return max(0.0, 1.0 - progress)
    return 1.0


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _maybe_fail(settings: LoopSettings, step: int) -> None:
    """Test hook: kill this worker process once at the given step (a marker file makes it fire once);
    with `"stall": true`, hang there instead.

    With `"after_checkpoints": {"run_directory": path, "count": n}` it first waits until Ray Train has
    registered n checkpoints for the run: the controller registers a reported checkpoint only when it
    next polls the workers (every 2 s), and a worker killed before that resumes from the one before.
    """
    fault = settings.fault_injection
    if fault and step == fault["step"] and not Path(fault["marker"]).exists():
        wanted = fault.get("after_checkpoints")
        if wanted:
            _wait_for_registered_checkpoints(wanted["run_directory"], wanted["count"])
        Path(fault["marker"]).write_text(str(os.getpid()))
        if fault.get("stall"):  # hang instead: the driver's stall watchdog must end the run
            while True:
                time.sleep(60)
        os.kill(os.getpid(), signal.SIGKILL)


def _wait_for_registered_checkpoints(run_directory: str, count: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(registered_checkpoints(run_directory)) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def evaluate(placed: PlacedModel, batches: Iterable[dict], inputs: tuple[int, int] = (0, 0)) -> dict:
    """Exact metrics over every worker's validation shard; shards may differ in size, or be empty.

    Replicated, scoring goes through the module inside DDP: DDP's forward may run collectives (buffer
    broadcasts), which would deadlock against a worker that has fewer batches and already waits in
    the gather. Sharded tables need every worker in every lookup, so workers agree on each step and
    one that has run out scores a one-row stand-in (dropped) of `inputs` = (continuous, categorical) columns.
    """
    model, device = placed.module, placed.device
    model.eval()
    rows = []
    with torch.no_grad():
        for batch in _aligned(batches, inputs) if placed.sharded else batches:
            with _autocast(device):
                logits = model(batch["continuous"].to(device), batch["categorical"].to(device))
            if batch.get("stand_in"):
                continue
            probabilities = torch.sigmoid(logits.float()).double().cpu()
            truth = batch.get("p_true", torch.full_like(probabilities, float("nan"))).double().cpu()
            rows.append(torch.stack([batch["label"].double().cpu(), probabilities, truth], dim=1))
    local = torch.cat(rows) if rows else torch.zeros((0, 3), dtype=torch.float64)
    everything = gather_predictions(local).numpy()
    labels, probabilities, truth = everything[:, 0], everything[:, 1], everything[:, 2]
    return validation_metrics(labels, probabilities, truth)


def _aligned(batches: Iterable[dict], inputs: tuple[int, int]):
    """The batches, then one-row stand-ins until every worker has run out (one all-reduce per step)."""
    iterator = iter(batches)
    stand_in = {"continuous": torch.zeros(1, inputs[0]), "categorical": torch.zeros(1, inputs[1], dtype=torch.int64),
                "stand_in": True}
    while True:
        batch = next(iterator, None)
        if _max_across_workers(float(batch is not None)) == 0.0:
            return
        yield stand_in if batch is None else batch


def _sum_across_workers(value: float) -> float:
    return _reduce_across_workers(value, "sum")


def _max_across_workers(value: float) -> float:
    return _reduce_across_workers(value, "max")


def _reduce_across_workers(value: float, how: str) -> float:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM if how == "sum" else dist.ReduceOp.MAX)
    return float(tensor.item())


@dataclass
class _Epoch:
    """One epoch's running totals. The loss is summed on the model's device and read only when asked
    for (progress lines, the epoch's metrics): reading it each step would make the host wait for every
    GPU step before it could queue the next one."""

    loss_total: torch.Tensor | None = None
    batches: int = 0
    samples: int = 0

    def add(self, loss: torch.Tensor, samples: int) -> None:
        loss = loss.detach().to(torch.float64)
        self.loss_total = loss if self.loss_total is None else self.loss_total + loss
        self.batches += 1
        self.samples += samples

    @property
    def loss_sum(self) -> float:
        return 0.0 if self.loss_total is None else float(self.loss_total)


def train_epoch(placed: PlacedModel, batches, state: TrainingState, settings: LoopSettings, on_step) -> _Epoch:
    """One pass over the shard, skipping the batches a mid-epoch checkpoint already trained."""
    model, optimizer, device = placed.model, placed.optimizer, placed.device
    model.train()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    epoch = _Epoch()
    total_steps = settings.steps_per_epoch * settings.optim["epochs"]
    for index, batch in enumerate(batches):
        if index < state.batch_in_epoch:
            continue
        placed.set_lr_factor(lr_factor(state.step, settings.optim, total_steps), settings.optim)
        with _autocast(device):
            logits = model(batch["continuous"].to(device), batch["categorical"].to(device))
        loss = loss_fn(logits.float(), batch["label"].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state.step += 1
        state.batch_in_epoch = index + 1
        epoch.add(loss, int(batch["label"].shape[0]))
        _maybe_fail(settings, state.step)
        on_step(epoch)
    return epoch


class RayTrainSession:
    """The loop's view of a Ray Train worker: rank, device, dataset shards, report and resume."""

    def rank(self) -> int:
        import ray.train

        return ray.train.get_context().get_world_rank()

    def prepare(self, model: torch.nn.Module) -> tuple[torch.nn.Module, torch.device]:
        import ray.train.torch

        return ray.train.torch.prepare_model(model), ray.train.torch.get_device()

    def device(self) -> torch.device:
        import ray.train.torch

        return ray.train.torch.get_device()

    def shard(self, name: str):
        import ray.train

        return ray.train.get_dataset_shard(name)

    def latest_checkpoint(self):
        import ray.train

        return ray.train.get_checkpoint()

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        """Report one round of metrics, with the checkpoint written to `checkpoint_dir` if any."""
        import ray.train

        checkpoint = ray.train.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint)


class ProcessGroupSession:
    """The model-placement part of a session for a plain torch.distributed process (no Ray): rank 0 of
    1 without a process group; `prepare` wraps in DDP when there are several processes. Tests and
    benchmarks place models with it (`place_model(settings, ProcessGroupSession())`)."""

    def rank(self) -> int:
        import torch.distributed as dist

        return dist.get_rank() if dist.is_initialized() else 0

    def device(self) -> torch.device:
        return torch.device("cpu")

    def prepare(self, model: torch.nn.Module) -> tuple[torch.nn.Module, torch.device]:
        import torch.distributed as dist

        if dist.is_initialized() and dist.get_world_size() > 1:
            model = torch.nn.parallel.DistributedDataParallel(model)
        return model, self.device()


def _report(metrics: dict, placed: PlacedModel, state: TrainingState, rank: int, session, save: bool = True) -> None:
    state.metrics = metrics
    with tempfile.TemporaryDirectory(prefix="raylane-ckpt-") as directory:
        written = None
        if save and (rank == 0 or placed.sharded):  # sharded: every worker saves the shards it holds
            written = str(save_checkpoint(directory, placed, None, state, rank=rank))
        session.report(metrics, written)


def _resume(placed: PlacedModel, session, say) -> TrainingState:
    checkpoint = session.latest_checkpoint()
    if checkpoint is None:
        return TrainingState()
    with checkpoint.as_directory() as directory:
        state = load_checkpoint(directory, placed)
    placed.set_step(state.step)
    state.resumed_from_steps.append(state.step)
    say(f"[train] resuming after epoch {state.epoch + 1} at step {state.step}")
    return state


def _placeholder_metrics(settings: LoopSettings, state: TrainingState) -> dict:
    """Metrics for a mid-epoch checkpoint: the last validation, or the worst value before any."""
    worst = {"max": -1.0, "min": 1e30}[settings.mode]
    return {settings.metric: worst, **state.metrics, "epoch": state.epoch + 1, "step": state.step, "partial_epoch": True}


def _batch_source(settings: LoopSettings, device):
    """`batches_of(shard, batch_size, training)`: the shard's batches, transformed on `device` when the
    shards hold raw columns (`worker_transform`), else as the Ray Data tasks transformed them."""
    if settings.worker_transform is None:
        return lambda shard, batch_size, training: fixed_size_batches(shard, batch_size, BATCH_DTYPES)
    from framework.features import FeaturePipeline
    from framework.train.data import model_tensors

    pipeline, label = FeaturePipeline.load(settings.worker_transform["pipeline_dir"]), settings.worker_transform["label"]

    def batches_of(shard, batch_size: int, training: bool):
        blocks = shard.iter_batches(batch_size=None, batch_format="pyarrow")
        return cut_batches((model_tensors(pipeline, table, label, training, device) for table in blocks), batch_size)

    return batches_of


def _beating(batches, beacon: str | None):
    """The batches, each one a beat of the driver's stall watchdog (rate-limited in `beat`)."""
    for batch in batches:
        beat(beacon)
        yield batch


def train_loop_per_worker(config: dict) -> None:
    """Ray Train entry point: build, resume, train, validate and checkpoint every epoch."""
    run_loop(LoopSettings(**config), RayTrainSession())


def run_loop(settings: LoopSettings, session) -> None:
    """Build the model, resume from the session's checkpoint, then train and validate each epoch."""
    rank = session.rank()
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)
    placed = place_model(settings, session)
    say = _printer(settings, rank)
    if placed.plan_text:
        say(f"[train] embedding tables sharded by TorchRec ({settings.embeddings['placement']}): "
            f"{_plan_summary(placed.plan_text)}")
    try:
        _train(settings, session, placed, rank, say)
    finally:
        placed.close()


def _printer(settings: LoopSettings, rank: int):
    """Where the loop's [train] lines go: printed by rank 0 alone (once, not once per worker), unless
    the settings say the run's story is told elsewhere (a sweep trial)."""
    if rank != 0 or not settings.print_lines:
        return lambda line: None
    return lambda line: print(line, flush=True)


def _plan_summary(plan_text: str) -> str:
    """How many tables TorchRec's plan puts under each sharding type (its table rows: param | type | kernel | ranks)."""
    counts: dict[str, int] = {}
    for line in plan_text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) == 4 and cells[1].endswith("_wise"):
            counts[cells[1]] = counts.get(cells[1], 0) + 1
    return ", ".join(f"{kind} {count} table(s)" for kind, count in sorted(counts.items()))


def _train(settings: LoopSettings, session, placed: PlacedModel, rank: int, say) -> None:
    device = placed.device
    state = _resume(placed, session, say)
    batch_size, epochs = settings.optim["batch_size"], settings.optim["epochs"]
    train_shard = session.shard("train")
    valid_shard = session.shard("valid")
    batches_of = _batch_source(settings, device)

    for epoch_index in range(state.epoch + 1, epochs):
        started = time.perf_counter()

        def on_step(progress: _Epoch) -> None:
            if state.step % PROGRESS_EVERY_STEPS == 0:
                rate = progress.samples / max(time.perf_counter() - started, 1e-9)
                loss = progress.loss_sum / max(progress.batches, 1)
                say(f"[train] epoch {epoch_index + 1}/{epochs} step {state.step} loss {loss:.4f} {rate:,.0f} samples/s/worker")
            every = settings.checkpoint_every_n_steps
            if every and state.step % every == 0:
                _report(_placeholder_metrics(settings, state), placed, state, rank, session)

        batches = _beating(batches_of(train_shard, batch_size, True), settings.progress_beacon)
        progress = train_epoch(placed, batches, state, settings, on_step)
        seconds = time.perf_counter() - started
        samples = _sum_across_workers(progress.samples)
        inputs = (settings.num_continuous, len(settings.cardinalities))
        metrics = evaluate(placed, _beating(batches_of(valid_shard, batch_size * 4, False), settings.progress_beacon), inputs)
        state.epoch, state.batch_in_epoch = epoch_index, 0
        metrics.update(
            epoch=epoch_index + 1,
            step=state.step,
            train_loss=_sum_across_workers(progress.loss_sum) / max(_sum_across_workers(progress.batches), 1),
            samples_per_s=samples / max(seconds, 1e-9),
            resumes=len(state.resumed_from_steps),
            resumed_from_step=state.resumed_from_steps[-1] if state.resumed_from_steps else -1,
            num_params=placed.num_params,
        )
        bayes = f" (Bayes AUC {metrics['bayes_auc']:.4f})" if "bayes_auc" in metrics else ""
        say(f"[train] epoch {epoch_index + 1}/{epochs}: auc {metrics['auc']:.4f}{bayes} logloss {metrics['logloss']:.4f} "
            f"{metrics['samples_per_s']:,.0f} samples/s")
        _report(metrics, placed, state, rank, session, save=settings.checkpoint_every_epoch)
        beat(settings.progress_beacon)  # validation and the checkpoint took time too
