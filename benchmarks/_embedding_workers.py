"""Worker side of benchmarks/embeddings.py: one placement of one model in N spawned gloo processes.

Each process takes one thread, places the model with raylane's own code (framework.train.placed_model,
as a Ray Train worker does), and times raylane's training step (framework.train.loop.train_epoch) on
its contiguous slice of ready tensors. It counts what it sends to the other processes, from the
collectives actually called (TorchRec's all-to-alls and reduce-scatters in Python, DDP's gradient
all-reduce through a comm hook), and the bytes of table weights and optimizer state it holds.

The plain baseline (`plain_fused_loop`) is what one would write without raylane or TorchRec: one
process, FBGEMM's table-batched embedding kernel with the same fused optimizer, Adam on the rest.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from collections import defaultdict

import torch

LOOPS = ("replicated", "table_wise", "row_wise", "auto")


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: Linux carries that across
    execve, so a spawned child would report at least its parent's size at the fork."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def synthetic_batches(spec: dict, rank: int, steps: int, batch: int) -> list[dict]:
    """Random rows for a model given by its sizes (the large-table workload)."""
    generator = torch.Generator().manual_seed(1000 + rank)
    batches = []
    for _ in range(steps):
        categorical = torch.stack([torch.randint(0, rows, (batch,), generator=generator) for rows in spec["cardinalities"]], 1)
        batches.append({"continuous": torch.randn(batch, spec["num_continuous"], generator=generator),
                        "categorical": categorical, "label": (torch.rand(batch, generator=generator) > 0.5).float()})
    return batches


def tensor_batches(tensors: dict, rank: int, world: int, steps: int, batch: int) -> list[dict]:
    """Slices of ready tensors: worker `rank` takes its contiguous share of the rows, batch by batch."""
    rows = len(tensors["label"]) // world
    first = rank * rows
    out = []
    for step in range(steps):
        start = first + (step * batch) % max(rows - batch, 1)
        out.append({name: value[start: start + batch] for name, value in tensors.items()})
    return out


class SentBytes:
    """Bytes this worker sends to other workers, counted per collective call (ideal ring algorithms:
    all-reduce 2(N-1)/N of the tensor, reduce-scatter (N-1)/N of the input, all-gather (N-1) x local,
    all-to-all the splits addressed to the others)."""

    def __init__(self):
        self.by_kind: dict[str, int] = defaultdict(int)

    def install(self) -> None:
        import torch.distributed as dist

        world, rank = dist.get_world_size(), dist.get_rank()
        size = lambda t: t.numel() * t.element_size()  # noqa: E731
        share = (world - 1) / world

        def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, *a, **k):
            if input_split_sizes:
                row = size(input) // max(input.shape[0], 1)
                sent = sum(n for j, n in enumerate(input_split_sizes) if j != rank) * row
            else:
                sent = int(size(input) * share)
            self.by_kind["all_to_all"] += sent
            return original["all_to_all_single"](output, input, output_split_sizes, input_split_sizes, *a, **k)

        def counted(name, kind, amount):
            def call(*args, **kwargs):
                self.by_kind[kind] += int(amount(*args))
                return original[name](*args, **kwargs)
            return call

        original = {name: getattr(dist, name) for name in
                    ("all_to_all_single", "all_reduce", "reduce_scatter_tensor", "all_gather_into_tensor", "all_to_all")}
        dist.all_to_all_single = all_to_all_single
        dist.all_reduce = counted("all_reduce", "all_reduce", lambda t, *a: 2 * share * size(t))
        dist.reduce_scatter_tensor = counted("reduce_scatter_tensor", "reduce_scatter", lambda out, inp, *a: share * size(inp))
        dist.all_gather_into_tensor = counted("all_gather_into_tensor", "all_gather", lambda out, inp, *a: (world - 1) * size(inp))
        dist.all_to_all = counted("all_to_all", "all_to_all",
                                  lambda outs, ins, *a: sum(size(t) for j, t in enumerate(ins) if j != rank))
        self._share = share

    def hook_ddp(self, ddp) -> None:
        """Count DDP's gradient all-reduce (it runs in C++, past the Python functions above)."""
        from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

        def hook(state, bucket):
            buffer = bucket.buffer()
            self.by_kind["all_reduce"] += int(2 * self._share * buffer.numel() * buffer.element_size())
            return allreduce_hook(None, bucket)

        ddp.register_comm_hook(None, hook)

    def reset(self) -> None:
        self.by_kind.clear()


def _settings(spec: dict, placement: str, batch: int, steps: int, memory_per_worker: int | None, world: int = 1):
    """The loop settings a raylane run would give its workers (`auto` resolved as the driver does)."""
    from framework.train.embeddings import declared_tables, effective_placement
    from framework.train.loop import LoopSettings

    specs = declared_tables(spec["model"], spec["num_continuous"], spec["cardinalities"])
    placement = effective_placement(placement, specs, batch * world)
    optim = {"optimizer": "adam", "lr": spec["lr"], "weight_decay": 0.0, "momentum": 0.0, "epochs": 1,
             "lr_schedule": "constant", "warmup_steps": 0, "batch_size": batch, "embeddings": spec["embeddings"]}
    embeddings = {"placement": placement, "optimizer": spec["embeddings"], "memory_per_worker": memory_per_worker}
    return LoopSettings(model_config=spec["model"], num_continuous=spec["num_continuous"], cardinalities=spec["cardinalities"],
                        optim=optim, seed=0, steps_per_epoch=steps, embeddings=embeddings)


def table_memory(placed) -> dict:
    """Bytes of table weights and of their optimizer state this worker holds, from its tensors."""
    nbytes = lambda t: t.numel() * t.element_size()  # noqa: E731
    if placed.sharded:
        shards = placed.shards()
        weights = sum(nbytes(s.data) for s in shards if s.tensor == "weight")
        return {"table_weight_bytes": weights, "table_optimizer_state_bytes": sum(nbytes(s.data) for s in shards) - weights}
    from framework.models import embedding_tables_of

    tables = [component.table(j).weight for _, component in embedding_tables_of(placed.module) for j in range(len(component))]
    state = sum(nbytes(v) for p in tables for v in placed.optimizer.state.get(p, {}).values() if isinstance(v, torch.Tensor))
    gradients = sum(nbytes(p) for p in tables)  # dense gradients, as large as the tables
    return {"table_weight_bytes": sum(nbytes(p) for p in tables), "table_optimizer_state_bytes": state + gradients}


def _worker(rank: int, world: int, port: int, job: dict, results) -> None:
    import torch.distributed as dist

    from framework.train.checkpoint import TrainingState
    from framework.train.loop import ProcessGroupSession, train_epoch
    from framework.train.placed_model import place_model

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        counter = SentBytes()
        counter.install()
        spec, batch, steps, warmup = job["spec"], job["batch"], job["steps"], job["warmup"]
        settings = _settings(spec, job["placement"], batch, warmup + steps, job.get("memory_per_worker"), world)
        try:
            placed = place_model(settings, ProcessGroupSession())
        except Exception as error:  # the refusal of a model that does not fit is a result here
            results.put((rank, {"refused": f"{type(error).__name__}: {error}"}))
            return
        ddp = placed.model if isinstance(placed.model, torch.nn.parallel.DistributedDataParallel) else \
            getattr(placed.model, "_dmp_wrapped_module", None)
        if isinstance(ddp, torch.nn.parallel.DistributedDataParallel):
            counter.hook_ddp(ddp)
        batches = tensor_batches(job["tensors"], rank, world, warmup + steps, batch) if job.get("tensors") is not None \
            else synthetic_batches(spec, rank, warmup + steps, batch)
        state = TrainingState()
        train_epoch(placed, batches[:warmup], state, settings, lambda _: None)
        counter.reset()
        dist.barrier()
        started = time.perf_counter()
        train_epoch(placed, batches[warmup:], TrainingState(), settings, lambda _: None)
        seconds = time.perf_counter() - started
        results.put((rank, {
            "samples_per_s": steps * batch / seconds,
            "sent_bytes_per_step": {kind: total / steps for kind, total in counter.by_kind.items()},
            "peak_rss_mib": peak_rss_mib(),
            "placement": settings.embeddings["placement"],
            **table_memory(placed),
        }))
        placed.close()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def run_placement(job: dict, workers: int) -> dict:
    """`job` = {spec, placement, batch, steps, warmup[, tensors, memory_per_worker]} on `workers` processes."""
    import torch.multiprocessing

    context = torch.multiprocessing.get_context("spawn")
    results, port = context.Queue(), free_port()
    processes = [context.Process(target=_worker, args=(rank, workers, port, job, results)) for rank in range(workers)]
    for process in processes:
        process.start()
    by_rank = dict(results.get(timeout=1800) for _ in processes)
    for process in processes:
        process.join()
    if any("refused" in r for r in by_rank.values()):
        return {"workers": workers, "refused": next(r["refused"] for r in by_rank.values() if "refused" in r)}
    per_worker = [by_rank[rank] for rank in sorted(by_rank)]
    kinds = sorted({kind for r in per_worker for kind in r["sent_bytes_per_step"]})
    return {
        "workers": workers,
        "placement_used": per_worker[0]["placement"],
        "samples_per_s_per_worker": sum(r["samples_per_s"] for r in per_worker) / workers,
        "samples_per_s": sum(r["samples_per_s"] for r in per_worker),
        "sent_bytes_per_step_per_worker": {k: max(r["sent_bytes_per_step"].get(k, 0) for r in per_worker) for k in kinds},
        "sent_bytes_per_step_per_worker_total": max(sum(r["sent_bytes_per_step"].values()) for r in per_worker),
        "peak_rss_mib_per_worker": [round(r["peak_rss_mib"]) for r in per_worker],
        "table_weight_bytes_per_worker": max(r["table_weight_bytes"] for r in per_worker),
        "table_optimizer_state_bytes_per_worker": max(r["table_optimizer_state_bytes"] for r in per_worker),
        "table_bytes_per_worker": max(r["table_weight_bytes"] + r["table_optimizer_state_bytes"] for r in per_worker),
    }


class FusedTables(torch.nn.Module):
    """FBGEMM's table-batched lookup with its fused optimizer, used directly (no TorchRec)."""

    def __init__(self, specs, seed: int, optimizer: dict):
        super().__init__()
        from fbgemm_gpu.split_embedding_configs import EmbOptimType
        from fbgemm_gpu.split_table_batched_embeddings_ops_common import EmbeddingLocation
        from fbgemm_gpu.split_table_batched_embeddings_ops_training import ComputeDevice, SplitTableBatchedEmbeddingBagsCodegen

        from framework.models._embeddings import initial_rows

        kind = {"rowwise_adagrad": EmbOptimType.EXACT_ROWWISE_ADAGRAD, "adagrad": EmbOptimType.EXACT_ADAGRAD,
                "sgd": EmbOptimType.EXACT_SGD}[optimizer["optimizer"]]
        self.tables = SplitTableBatchedEmbeddingBagsCodegen(
            [(s.rows, s.dim, EmbeddingLocation.HOST, ComputeDevice.CPU) for s in specs], optimizer=kind,
            learning_rate=optimizer["lr"], eps=optimizer["eps"], weight_decay=optimizer["weight_decay"])
        for index, (spec, weight) in enumerate(zip(specs, self.tables.split_embedding_weights())):
            weight.copy_(initial_rows(seed, index, spec.rows, spec.dim, (0, spec.rows)))
        self.count = len(specs)

    def forward(self, categorical: torch.Tensor) -> torch.Tensor:
        batch = categorical.shape[0]
        offsets = torch.arange(0, batch * self.count + 1, dtype=torch.int64)
        return self.tables(categorical.t().reshape(-1), offsets).view(batch, self.count, -1)


def plain_fused_loop(spec: dict, batches: list[dict], warmup: int) -> dict:
    """One process, one thread: the model with FBGEMM's fused tables, Adam on the dense part."""
    from framework.models import build_model, embedding_tables_of, tables_on_meta, validate_model_config

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tables_on_meta():
            model = build_model(validate_model_config(spec["model"]), spec["num_continuous"], spec["cardinalities"], seed=0)
        for _, tables in embedding_tables_of(model):
            tables.replace_lookup(FusedTables(tables.specs, tables.init_seed, spec["embeddings"]))
        dense = [p for name, p in model.named_parameters() if ".lookup.tables." not in name]
        optimizer = torch.optim.Adam(dense, lr=spec["lr"])
        loss_fn = torch.nn.BCEWithLogitsLoss()
        for index, batch in enumerate(batches):
            if index == warmup:
                started = time.perf_counter()
            loss = loss_fn(model(batch["continuous"], batch["categorical"]), batch["label"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            float(loss.detach())
        seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(previous)
    rows = sum(len(b["label"]) for b in batches[warmup:])
    return {"workers": 1, "threads": 1, "samples_per_s": rows / seconds, "samples_per_s_per_worker": rows / seconds}
