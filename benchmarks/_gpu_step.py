"""The model's training step on a GPU with torch alone: the samples/s an input pipeline must feed.

One step is what raylane's loop does on CUDA: forward under bf16 autocast, BCE-with-logits loss in
float32, backward, optimizer step. Batches are consecutive slices of tensors already on the device,
so no data path is included. Timed between CUDA synchronizations after warm-up steps.
"""

from __future__ import annotations

import time

import torch

__all__ = ["training_step_samples_per_s"]


def training_step_samples_per_s(model, optimizer, tensors: dict, batch: int, warmup_steps: int = 20, steps: int = 200) -> float:
    """Steady-state samples/s of `model`'s training step over on-device tensors (continuous, categorical, label)."""
    rows = len(tensors["label"])
    if rows < batch:
        raise ValueError(f"need at least one batch of {batch} rows on the device, got {rows}")
    batches = rows // batch
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step(index: int) -> None:
        first = (index % batches) * batch
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(tensors["continuous"][first:first + batch], tensors["categorical"][first:first + batch])
        loss = loss_fn(logits.float(), tensors["label"][first:first + batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for index in range(warmup_steps):
        step(index)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for index in range(steps):
        step(index)
    torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - started)
