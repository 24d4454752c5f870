"""The DLRM training step on a GPU with torch alone: what the input pipeline must feed (goal: 2x this).

For GPU machines without Ray (the device image has torch and CuPy only). The model is
jobs/configs/train_small.yaml's DLRM (embedding 16, bottom MLP [64, 16], top MLP [64, 32]) over 13
continuous and 26 categorical columns of 900 categories each, trained with Adam under bf16 autocast
as raylane's loop does on CUDA, on synthetic tensors already on the device. Per batch size: 20
warm-up steps, then 200 timed steps between CUDA synchronizations.

    python benchmarks/gpu_model_step.py
Writes benchmarks/results/gpu_model_step-<device>.json. Without a GPU it says so and exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._gpu_step import training_step_samples_per_s  # noqa: E402
from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_device_result  # noqa: E402

MODEL = {"name": "dlrm", "embedding_dim": 16, "bottom_mlp": [64, 16], "top_mlp": [64, 32]}
CONTINUOUS, CATEGORICAL, CATEGORIES = 13, 26, 900
BATCH_SIZES = (1024, 8192, 65536)
WARMUP_STEPS, TIMED_STEPS, DISTINCT_BATCHES = 20, 200, 16


def step_samples_per_s(batch: int) -> float:
    from framework.models import build_model, validate_model_config

    model = build_model(validate_model_config(MODEL), CONTINUOUS, [CATEGORIES] * CATEGORICAL, seed=0).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rows = batch * DISTINCT_BATCHES
    tensors = {"continuous": torch.randn(rows, CONTINUOUS, device="cuda"),
               "categorical": torch.randint(0, CATEGORIES, (rows, CATEGORICAL), device="cuda"),
               "label": torch.randint(0, 2, (rows,), device="cuda").float()}
    return training_step_samples_per_s(model, optimizer, tensors, batch, WARMUP_STEPS, TIMED_STEPS)


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu_model_step: no CUDA device here; nothing to measure")
        return 0
    name = torch.cuda.get_device_name(0)
    report = {"device": name, "torch": torch.__version__, "model": MODEL,
              "inputs": f"{CONTINUOUS} continuous, {CATEGORICAL} categorical x {CATEGORIES} categories",
              "warmup_steps": WARMUP_STEPS, "timed_steps": TIMED_STEPS}
    for batch in BATCH_SIZES:
        report[f"batch_{batch}_samples_per_s"] = rate = step_samples_per_s(batch)
        print(f"batch {batch:6d}: {rate:,.0f} samples/s", flush=True)
    print(f"wrote {write_device_result('gpu_model_step', name, report)}")
    return 0


if __name__ == "__main__":
    with private_raylane_home():
        sys.exit(main())
