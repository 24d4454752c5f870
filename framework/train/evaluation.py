"""Validation metrics computed exactly over the whole validation set, across all workers.

Each worker scores its shard; the (label, score, p_true) triples of every worker are gathered before
AUC and logloss are computed, so the numbers equal those of one process scoring everything.
"""

from __future__ import annotations

import numpy as np
import torch

from framework.metrics import roc_auc

__all__ = ["gather_predictions", "validation_metrics", "logloss"]

_EPSILON = 1e-7


def logloss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    p = np.clip(probabilities, _EPSILON, 1 - _EPSILON)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def gather_predictions(local: torch.Tensor) -> torch.Tensor:
    """Concatenate each worker's [n_i, k] float64 tensor on every worker (rows of rank 0 first).

    torch.distributed.all_gather needs equal shapes, so shards are padded to the longest one.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    local = local.to(device)
    size = torch.tensor([local.shape[0]], device=device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros((longest, local.shape[1]), dtype=local.dtype, device=device)
    padded[: local.shape[0]] = local
    gathered = [torch.zeros_like(padded) for _ in sizes]
    dist.all_gather(gathered, padded)
    return torch.cat([g[: int(s.item())] for g, s in zip(gathered, sizes)]).cpu()


def validation_metrics(labels: np.ndarray, probabilities: np.ndarray, p_true: np.ndarray | None) -> dict:
    metrics = {
        "auc": roc_auc(labels, probabilities),
        "logloss": logloss(labels, probabilities),
        "valid_rows": int(labels.size),
    }
    if p_true is not None and p_true.size and np.isfinite(p_true).all():  # NaN where the data has none
        metrics["bayes_auc"] = roc_auc(labels, p_true)
    return metrics
