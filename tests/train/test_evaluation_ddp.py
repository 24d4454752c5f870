"""Evaluation under DDP with uneven validation shards: no deadlock, and exact metrics.

Two gloo processes (no Ray): rank 0 scores 3 batches, rank 1 none. DLRM has a buffer, so DDP's own
forward broadcasts buffers on every call; scoring through it would leave rank 0 waiting in that
broadcast while rank 1 waits in the predictions gather. The metrics must equal scikit-learn's over
rank 0's rows alone (the whole validation set here).
"""

from __future__ import annotations

import json
import multiprocessing

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

BATCHES, ROWS = 3, 200
CARDINALITIES = [20, 7]


def _batches(rank: int) -> list[dict]:
    generator = torch.Generator().manual_seed(5)
    batches = []
    for _ in range(BATCHES):
        batches.append({
            "continuous": torch.randn(ROWS, 4, generator=generator),
            "categorical": torch.stack([torch.randint(0, c, (ROWS,), generator=generator) for c in CARDINALITIES], 1),
            "label": torch.randint(0, 2, (ROWS,), generator=generator).float(),
        })
    return batches if rank == 0 else []


def _worker(rank: int, init_file: str, out: str) -> None:
    import torch.distributed as dist

    from framework.models import build_model, validate_model_config
    from framework.train.loop import evaluate
    from framework.train.placed_model import plain_placement

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    config = validate_model_config({"name": "dlrm", "embedding_dim": 8, "bottom_mlp": [16, 8], "top_mlp": [16]})
    model = build_model(config, 4, CARDINALITIES, seed=0)
    assert list(model.buffers()), "the check needs a model with buffers (DDP broadcasts them in forward)"
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    metrics = evaluate(plain_placement(ddp, None), _batches(rank))
    with torch.no_grad():
        reference = [torch.sigmoid(model(b["continuous"], b["categorical"])).double() for b in _batches(0)]
    with open(out, "w") as handle:
        json.dump({"metrics": metrics, "probabilities": torch.cat(reference).tolist()}, handle)
    dist.destroy_process_group()


def test_uneven_validation_shards_under_ddp_give_exact_metrics(tmp_path):
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"rank{r}.json" for r in range(2)]
    workers = [context.Process(target=_worker, args=(r, str(tmp_path / "init"), str(outs[r]))) for r in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    alive = [w for w in workers if w.is_alive()]
    for worker in alive:
        worker.kill()
    assert not alive, "evaluation deadlocked with one empty validation shard"
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]
    labels = torch.cat([b["label"] for b in _batches(0)]).numpy()
    for out in outs:
        result = json.loads(out.read_text())
        probabilities = np.asarray(result["probabilities"])
        metrics = result["metrics"]
        assert metrics["valid_rows"] == BATCHES * ROWS
        assert metrics["auc"] == pytest.approx(roc_auc_score(labels, probabilities), abs=1e-12)
        assert metrics["logloss"] == pytest.approx(log_loss(labels, probabilities), abs=1e-6)
