"""The typed training config (`raylane train CONFIG`), section by section.

Example (the shape is fixed; see jobs/configs/train_small.yaml for every knob):
    data: {train: "data/train/*.parquet", valid: "data/valid/*.parquet", contract: data/contract.yaml}
    features: {passthrough: [id, label], id_column: id, ops: [...]}   # or {suggest: true}, or a pipeline YAML file
    label: label
    model: {name: dlrm, embedding_dim: 16, bottom_mlp: [64, 16], top_mlp: [64, 32]}
    optim: {epochs: 2, batch_size: 2048, optimizer: adam, lr: 0.001, weight_decay: 0.0,
            embeddings: {optimizer: rowwise_adagrad, lr: 0.05}}
    scaling: {num_workers: 2, use_gpu: auto, embeddings: auto}
    run: {name: ctr-small, storage_path: runs, max_failures: 1, seed: 0,
          checkpoint: {keep: 2, metric: auc, mode: max}}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from framework.config import StrictModel
from framework.features import PipelineSpec
from framework.workload import Workload

__all__ = [
    "CardSection",
    "EmbeddingOptimSection",
    "CheckpointSection",
    "DataSection",
    "ExplainSection",
    "OptimSection",
    "RegistrySection",
    "RunSection",
    "ScalingSection",
    "TrainConfig",
]

METRICS = ("auc", "logloss", "loss")


class SuggestedFeatures(StrictModel):
    """`features: {suggest: true}`: `raylane train` suggests the pipeline from the training data's
    statistics (`raylane features suggest`), writes it into the run directory and trains with it."""

    suggest: Literal[True]
    sample_rows: int = Field(100_000, gt=0, description="rows sampled for skew, quantiles and code detection")
    seed: int = 0


def _features_kind(value) -> str:
    suggested = isinstance(value, SuggestedFeatures) or (isinstance(value, dict) and "suggest" in value)
    return "suggest" if suggested else "pipeline"


Features = Annotated[
    Annotated[PipelineSpec, Tag("pipeline")] | Annotated[SuggestedFeatures, Tag("suggest")],
    Discriminator(_features_kind),
]


class DataSection(StrictModel):
    """Training and validation Parquet (file, directory, glob or list), and their contract."""

    train: str | list[str]
    valid: str | list[str]
    contract: str
    cache: Literal["auto"] | bool = Field(
        "auto",
        description="transform train and valid once into Ray's object store and train every epoch from there "
        "(no Parquet read or transform per epoch); auto: on a one-node cluster, when they take at most a quarter "
        "of the object store (on several nodes a lost node would take cached blocks with it)",
    )
    transform: Literal["auto", "tasks", "workers"] = Field(
        "auto",
        description="where the feature transform runs: tasks = Ray Data tasks (CPU kernels: Ray hides GPUs from "
        "tasks that hold none); workers = each training worker on its own device (GPU kernels on GPU workers); "
        "auto: workers when the training workers have GPUs, else tasks",
    )


EMBEDDING_PLACEMENTS = ("auto", "replicated", "table_wise", "row_wise", "column_wise")
_MEMORY_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
                 "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_bytes(value: int | float | str) -> int:
    """`4GiB`, `512MB`, `1.5e9` or a number of bytes -> bytes."""
    if isinstance(value, (int, float)):
        return int(value)
    text = value.strip().upper().replace(" ", "")
    number = text.rstrip("KMGTIB")
    unit = text[len(number):]
    try:
        return int(float(number) * _MEMORY_UNITS[unit])
    except (KeyError, ValueError):
        raise ValueError(f"expected bytes such as 4GiB, 512MB or 2000000000, got {value!r}") from None


class EmbeddingOptimSection(StrictModel):
    """The embedding tables' optimizer when they are sharded: fused into the backward pass (FBGEMM),
    it updates only the rows a batch touched. `replicated` tables use `optim.optimizer` instead."""

    optimizer: Literal["rowwise_adagrad", "adagrad", "adam", "sgd"] = "rowwise_adagrad"
    lr: float = Field(0.02, gt=0)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class OptimSection(StrictModel):
    epochs: int = Field(2, gt=0)
    batch_size: int = Field(2048, gt=0, description="per worker")
    optimizer: Literal["adam", "adamw", "sgd", "adagrad"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.0, ge=0, lt=1, description="sgd only")
    lr_schedule: Literal["constant", "cosine", "linear"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    embeddings: EmbeddingOptimSection = EmbeddingOptimSection()


class ScalingSection(StrictModel):
    """Workers and devices. `num_workers: [min, max]` turns on elastic training."""

    num_workers: int | tuple[int, int] = 2
    use_gpu: Literal["auto"] | bool = "auto"
    resources_per_worker: dict[str, float] | None = None
    accelerator: Literal["auto", "cpu", "gpu", "tpu"] = "auto"
    topology: str | None = Field(None, description="TPU slice topology, e.g. 2x2x1")
    accelerator_type: str | None = Field(None, description="e.g. TPU-V4, A100, H100")
    embeddings: Literal["auto", "replicated", "table_wise", "row_wise", "column_wise"] = Field(
        "auto",
        description="how embedding tables are placed: replicated on every worker (DDP), or sharded across the "
        "workers by TorchRec (table_wise, row_wise, column_wise); auto: TorchRec's planner within each worker's memory",
    )
    memory_per_worker: int | str | None = Field(
        None,
        description="memory the embedding tables and their optimizer state may take on each worker (bytes, or "
        "4GiB, 512MB); null: the worker's share of its node's memory (CPU) or its GPU's memory",
    )

    @field_validator("memory_per_worker")
    @classmethod
    def _memory(cls, value):
        if value is None:
            return None
        size = parse_bytes(value)
        if size <= 0:
            raise ValueError(f"must be a positive size, got {value!r}")
        return size

    @field_validator("num_workers")
    @classmethod
    def _workers(cls, value):
        if isinstance(value, tuple):
            low, high = value
            if not 1 <= low <= high:
                raise ValueError(f"[min, max] needs 1 <= min <= max, got {list(value)}")
        elif value < 0:
            raise ValueError("must be >= 0 (0 runs the training function in this process)")
        return value

    @model_validator(mode="after")
    def _tpu_fields(self) -> "ScalingSection":
        if self.accelerator == "tpu" and self.use_gpu is True:
            raise ValueError("accelerator: tpu cannot be combined with use_gpu: true")
        return self


class CheckpointSection(StrictModel):
    keep: int = Field(2, ge=1, description="checkpoints kept, ranked by `metric`")
    metric: Literal["auc", "logloss", "loss"] = "auc"
    mode: Literal["max", "min"] = "max"
    every_n_steps: int | None = Field(None, gt=0, description="also checkpoint mid-epoch")


class RunSection(StrictModel):
    """The run's identity: the same name and storage path resume; a new name starts fresh."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    storage_path: str = "runs"
    max_failures: int = Field(1, ge=-1, description="worker failures tolerated; -1 = forever")
    seed: int = 0
    checkpoint: CheckpointSection = CheckpointSection()
    stall_timeout_s: float | None = Field(
        600.0, gt=0, description="end the job with an error when no step, row or trial progresses this long; null: never"
    )


class RegistrySection(StrictModel):
    """Where a finished run's bundle is registered (MLflow; SQLite under RAYLANE_HOME by default)."""

    name: str | None = Field(None, description="register the bundle as a new version of this model; null: do not")
    alias: str = Field("candidate", pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")


class CardSection(StrictModel):
    """What the model card says beside the metrics: slices for the bias check, intended use, limits."""

    slices: list[str] = Field(default_factory=list, description="categorical columns: AUC and calibration per value")
    intended_use: str = ""
    limitations: str = ""


class ExplainSection(StrictModel):
    """Permutation importance of each raw column, computed on the validation data at the end of the run
    (explain.json, explain.png and a table in the bundle's model card; `raylane explain` for other data).
    Its cost is about (columns x repeats + 1) scorings of `max_rows` rows."""

    enabled: bool = True
    max_rows: int = Field(50_000, ge=2, description="seeded sample of the validation rows that is shuffled and scored")
    repeats: int = Field(3, ge=1, description="seeded shuffles per column; the importance is their mean, with its std")
    seed: int = Field(0, ge=0)


class TrainConfig(StrictModel):
    data: DataSection
    features: Features
    label: str = "label"
    model: dict[str, Any]
    optim: OptimSection = OptimSection()
    scaling: ScalingSection = ScalingSection()
    run: RunSection
    registry: RegistrySection = RegistrySection()
    card: CardSection = CardSection()
    explain: ExplainSection = ExplainSection()
    workload: Workload = Field("train", description="workload class: only nodes that accept it run this job's work")

    @field_validator("features", mode="before")
    @classmethod
    def _features_file(cls, value):
        """`features: pipeline.yaml` reads the pipeline from that file (what `raylane features suggest` wrote)."""
        if not isinstance(value, str):
            return value
        from framework.config import read_yaml

        mapping = read_yaml(value)
        if isinstance(mapping, dict) and isinstance(mapping.get("features"), dict):
            mapping = mapping["features"]
        if not isinstance(mapping, dict):
            raise ValueError(f"{value}: expected a pipeline YAML (an `ops:` list, or a `features:` section)")
        return mapping

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: dict) -> dict:
        from framework.models import validate_model_config

        validate_model_config(value)  # raises ConfigError naming model.<field>
        return value
