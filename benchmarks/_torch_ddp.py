"""The plain torch training epoch, and the data-parallel baseline without Ray: torch DistributedDataParallel over gloo in N spawned processes.

Each process takes one intra-op thread (as a Ray Train worker with CPU 0.5 does), trains on its own
contiguous slice of the same ready tensors the plain loop uses, and all-reduces gradients every step
exactly as DDP under Ray Train does. Comparing raylane's 2-worker rate with this one isolates what
Ray Train adds from what data parallelism itself costs on the machine.
"""

from __future__ import annotations

import os
import socket
import time

import torch


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def plain_epoch(model, optimizer, tensors: dict, first_row: int, last_row: int, batch: int) -> float:
    """One epoch of the plain torch loop over rows [first_row, last_row) of ready tensors; samples/s."""
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    started = time.perf_counter()
    for first in range(first_row, last_row, batch):
        last = min(first + batch, last_row)
        logits = model(tensors["continuous"][first:last], tensors["categorical"][first:last])
        loss = loss_fn(logits.float(), tensors["label"][first:last])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        float(loss.detach())  # the loop logs its loss, as raylane's does
    return (last_row - first_row) / (time.perf_counter() - started)


def _all_reduce_ms(num_floats: int, repeats: int = 30) -> float:
    """Milliseconds for one gloo all-reduce of `num_floats` (the model's gradient), here."""
    import torch.distributed as dist

    flat = torch.zeros(num_floats)
    for _ in range(3):
        dist.all_reduce(flat)
    started = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(flat)
    return (time.perf_counter() - started) / repeats * 1e3


def _worker(rank: int, world: int, port: int, build, tensors: dict, epochs: int, batch: int, results) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model, optimizer = build()  # the optimizer holds the same parameters DDP wraps
        model = torch.nn.parallel.DistributedDataParallel(model)
        rows = len(tensors["label"]) // world
        rates = [plain_epoch(model, optimizer, tensors, rank * rows, (rank + 1) * rows, batch) for _ in range(epochs)]
        gradient_floats = sum(p.numel() for p in model.parameters())
        results.put((rank, rates, _all_reduce_ms(gradient_floats), gradient_floats))
    finally:
        dist.destroy_process_group()


def plain_ddp_loop(build, tensors: dict, epochs: int, batch: int, workers: int = 2) -> dict:
    """Samples/s of torch DDP over gloo in `workers` spawned processes; `build()` returns (model, optimizer)
    and must be picklable (a module-level function or a partial of one).

    Spawned, not forked: a child forked from a process whose OpenMP pool has run (the plain loops)
    can hang for good; the tensors reach the children through shared memory."""
    import torch.multiprocessing

    context = torch.multiprocessing.get_context("spawn")
    results, port = context.Queue(), _free_port()
    processes = [context.Process(target=_worker, args=(rank, workers, port, build, tensors, epochs, batch, results))
                 for rank in range(workers)]
    for process in processes:
        process.start()
    by_rank = dict((rank, rest) for rank, *rest in (results.get(timeout=600) for _ in processes))
    for process in processes:
        process.join()
    per_epoch = [sum(by_rank[rank][0][epoch] for rank in by_rank) for epoch in range(epochs)]
    return {"workers": workers, "threads_per_worker": 1, "backend": "gloo",
            "samples_per_s_by_epoch": per_epoch, "samples_per_s": per_epoch[-1],
            "samples_per_s_per_worker": per_epoch[-1] / workers,
            "gradient_floats": by_rank[0][2], "all_reduce_ms": by_rank[0][1]}
