"""Where a run's embedding tables live (`scaling.embeddings`): the one module that decides it.

- `replicated`: every worker holds every table; DDP all-reduces their gradients and `optim.optimizer`
  updates every row (the behaviour before sharding, and the only one for a model that does not embed
  through `framework.models.EmbeddingTables`).
- `table_wise`, `row_wise`, `column_wise`: TorchRec shards the tables across the workers (FBGEMM's
  table-batched kernels); the dense layers stay data-parallel. `optim.embeddings` is fused into the
  backward pass and updates only the rows a batch touched.
- `auto`: TorchRec's planner picks per table, within each worker's memory.

A model that cannot fit is refused before training starts (`check_fits`), naming the tables, the
bytes needed and available, and the settings to change.

Example:
    >>> specs = [TableSpec("t0", 1_000_000, 64)]
    >>> check_fits(specs, "replicated", workers=2, budget=2**30, embedding_optimizer="rowwise_adagrad",
    ...            dense_optimizer="adam")                           # doctest: +SKIP
    EmbeddingsDoNotFit: scaling.embeddings=replicated: ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from framework.errors import ConfigError
from framework.models import TableSpec

__all__ = [
    "EmbeddingSettings", "EmbeddingsDoNotFit", "SHARDED_PLACEMENTS", "check_fits", "effective_placement", "settings_for_run",
    "optimizer_state_floats_per_row", "per_worker_bytes", "resolve_budget", "worker_memory_budget",
]

SHARDED_PLACEMENTS = ("table_wise", "row_wise", "column_wise")
# `auto` replicates tables holding at most this many rows per id that a step looks up (global batch x tables).
REPLICATE_ROWS_PER_LOOKUP = 2
# Host memory a CPU worker may give its tables: the rest goes to the dense model, batches and Ray.
HOST_MEMORY_FRACTION = 0.6
# GPU memory the tables may take: the rest goes to activations, the dense part and the allocator.
DEVICE_MEMORY_FRACTION = 0.8
# Floats per replicated table parameter: the weight, its dense gradient and optim.optimizer's state.
_REPLICATED_FLOATS = {"adam": 4, "adamw": 4, "adagrad": 3, "sgd": 3}


class EmbeddingsDoNotFit(ConfigError):
    """The tables (with their optimizer state) need more memory than the workers have."""


@dataclass(frozen=True)
class EmbeddingSettings:
    """The placement a run's workers apply (it travels to them as a dict).

    `memory_per_worker` is None where each worker measures its own (a GPU's memory)."""

    placement: str
    optimizer: dict
    memory_per_worker: int | None
    input_names: tuple[str, ...] = ()  # the categorical inputs, named in messages

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, mapping: dict) -> "EmbeddingSettings":
        return cls(**{**mapping, "input_names": tuple(mapping.get("input_names", ()))})

    @property
    def sharded(self) -> bool:
        return self.placement != "replicated"


def optimizer_state_floats_per_row(optimizer: str, dim: int) -> int:
    """The fused optimizer's state per table row (row-wise Adagrad keeps one float per row)."""
    return {"rowwise_adagrad": 1, "adagrad": dim, "adam": 2 * dim, "sgd": 0}[optimizer]


def sharded_table_bytes(spec: TableSpec, optimizer: str) -> int:
    return spec.rows * (spec.dim + optimizer_state_floats_per_row(optimizer, spec.dim)) * 4


def per_worker_bytes(specs: Sequence[TableSpec], placement: str, workers: int, embedding_optimizer: str,
                     dense_optimizer: str) -> int:
    """The most table memory any one worker needs under `placement` (weights plus optimizer state).

    table_wise packs whole tables onto the least-loaded worker, largest first (as TorchRec's planner
    does); row_wise and column_wise split each table evenly across the workers."""
    if placement == "replicated":
        return sum(spec.weight_bytes for spec in specs) * _REPLICATED_FLOATS[dense_optimizer]
    sizes = [sharded_table_bytes(spec, embedding_optimizer) for spec in specs]
    if placement == "table_wise":
        loads = [0] * max(workers, 1)
        for size in sorted(sizes, reverse=True):
            loads[loads.index(min(loads))] += size
        return max(loads)
    return -(-sum(sizes) // max(workers, 1))


CPU_FUSED_OPTIMIZERS = ("rowwise_adagrad", "adagrad", "sgd")
INSTALL_TORCHREC = ("pip install fbgemm-gpu-cpu==1.8.0 (fbgemm-gpu==1.8.0 on CUDA machines), then "
                    "pip install --no-deps torchrec==1.8.0; `make setup` does both")


def require_torchrec(placement: str) -> None:
    """Sharded placements need TorchRec and FBGEMM; say how to install them, before anything runs."""
    if placement == "replicated":
        return
    try:
        import framework.train._torchrec_loader  # noqa: F401  (imports FBGEMM and TorchRec, quietly)
    except (ImportError, OSError) as error:
        raise ConfigError(
            f"scaling.embeddings={placement} shards the tables with TorchRec, which does not load here ({error}); "
            f"{INSTALL_TORCHREC}; or set scaling.embeddings: replicated"
        ) from None


def check_optimizer_device(optimizer: str, placement: str, use_gpu: bool) -> None:
    """FBGEMM's CPU kernels have no Adam: refuse it on CPU workers before anything runs."""
    if placement != "replicated" and not use_gpu and optimizer not in CPU_FUSED_OPTIMIZERS:
        raise ConfigError(
            f"optim.embeddings.optimizer: {optimizer} runs on GPU workers only; FBGEMM's CPU kernels support "
            f"{', '.join(CPU_FUSED_OPTIMIZERS)} (or set scaling.embeddings: replicated to use optim.optimizer)"
        )


def effective_placement(setting: str, specs: Sequence[TableSpec], global_batch: int) -> str:
    """The placement a run uses: `replicated` for a model that declares no tables (it embeds on its
    own); for `auto`, also when the tables are small: at most `REPLICATE_ROWS_PER_LOOKUP` rows per id
    a step looks up, where DDP's dense all-reduce and Adam over every row cost less than TorchRec's
    all-to-alls and sharded lookups (measured in benchmarks/embeddings.py)."""
    if not specs:
        return "replicated"
    if setting == "auto" and sum(spec.rows for spec in specs) <= REPLICATE_ROWS_PER_LOOKUP * global_batch * len(specs):
        return "replicated"
    return setting


def check_fits(specs: Sequence[TableSpec], placement: str, *, workers: int, budget: int | None,
               embedding_optimizer: str, dense_optimizer: str, input_names: Sequence[str] = ()) -> int:
    """Bytes per worker the tables need; EmbeddingsDoNotFit if that is over `budget` (None: unchecked).

    `auto` is checked as its best option (row_wise spreads any table evenly)."""
    options = SHARDED_PLACEMENTS if placement == "auto" else (placement,)
    needs = {option: per_worker_bytes(specs, option, workers, embedding_optimizer, dense_optimizer) for option in options}
    needed = min(needs.values())
    if budget is None or needed <= budget:
        return needed
    raise EmbeddingsDoNotFit(_refusal(specs, placement, workers, budget, needed, embedding_optimizer, input_names))


def _refusal(specs, placement, workers, budget, needed, embedding_optimizer, input_names) -> str:
    largest = sorted(range(len(specs)), key=lambda j: -specs[j].weight_bytes)[:5]
    named = ", ".join(
        f"{specs[j].name}{f' ({input_names[j]})' if j < len(input_names) else ''}: {specs[j].rows:,} x {specs[j].dim} "
        f"= {_gib(specs[j].weight_bytes)}" for j in largest
    )
    total = sum(spec.weight_bytes for spec in specs)
    advice = ("scaling.embeddings: row_wise or auto to shard them across the workers, " if placement == "replicated"
              else "more scaling.num_workers, ")
    return (
        f"scaling.embeddings={placement}: the embedding tables need {_gib(needed)} per worker ({len(specs)} tables, "
        f"{_gib(total)} of weights in all, optimizer {embedding_optimizer if placement != 'replicated' else 'optim.optimizer'}"
        f" on {workers} worker(s)), but each worker has {_gib(budget)} for them (scaling.memory_per_worker, or when "
        "unset its share of its node's memory or its GPU's). "
        f"Largest tables: {named}. Change {advice}a smaller model.embedding_dim, smaller vocabularies in the feature ops "
        f"(max_size, num_buckets), or scaling.memory_per_worker"
    )


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"


def worker_memory_budget(memory_per_worker: int | None, use_gpu: bool, workers: int) -> int | None:
    """The bytes each worker may give its tables: the setting, else its share of its node's memory
    (Ray's `memory` resource of the smallest node); None on GPUs, where each worker measures its own."""
    if memory_per_worker is not None:
        return int(memory_per_worker)
    if use_gpu:
        return None
    import ray

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    smallest = min((node["Resources"].get("memory", 0) for node in nodes), default=0)
    per_node = -(-max(workers, 1) // max(len(nodes), 1))
    return int(smallest * HOST_MEMORY_FRACTION / per_node) or None


def resolve_budget(memory_per_worker: int | None, device) -> int | None:
    """On a worker: the run's budget, or what its GPU may give the tables; None on a CPU worker without one."""
    if memory_per_worker is not None or device.type != "cuda":
        return memory_per_worker
    import torch

    return int(torch.cuda.get_device_properties(device).total_memory * DEVICE_MEMORY_FRACTION)


def declared_tables(model_config: dict, num_continuous: int, cardinalities: Sequence[int]) -> list[TableSpec]:
    """The tables a model declares through `EmbeddingTables` (none for a model that embeds on its own);
    the model is built with its tables on the meta device, so this costs no table memory."""
    from framework.models import build_model, embedding_tables_of, tables_on_meta, validate_model_config

    with tables_on_meta():
        model = build_model(validate_model_config(model_config), num_continuous, cardinalities, seed=0)
    return [spec for _, tables in embedding_tables_of(model) for spec in tables.specs]


def settings_for_run(cfg, schema, workers: int, use_gpu: bool, log=print, most_workers: int | None = None) -> EmbeddingSettings:
    """The run's placement, checked against the workers' memory before anything starts (says so in one line).

    `workers` is the fewest the run may have and `most_workers` the most (elastic runs): the tables must
    fit the fewest, within the memory each worker has when the most share the nodes."""
    names = tuple(schema.categorical)
    specs = declared_tables(cfg.model, len(schema.continuous), list(schema.categorical.values()))
    budget = worker_memory_budget(cfg.scaling.memory_per_worker, use_gpu, most_workers or workers)
    placement = _placement_for_run(cfg, specs, workers, budget, log)
    optimizer = cfg.optim.embeddings.model_dump()
    check_optimizer_device(optimizer["optimizer"], placement, use_gpu)
    require_torchrec(placement)
    needed = check_fits(specs, placement, workers=max(workers, 1), budget=budget, embedding_optimizer=optimizer["optimizer"],
                        dense_optimizer=cfg.optim.optimizer, input_names=names)
    if specs:
        total = sum(spec.weight_bytes for spec in specs)
        if cfg.scaling.embeddings == "auto":
            placement_name = "auto: " + (f"replicated (small tables: at most {REPLICATE_ROWS_PER_LOOKUP} rows per id a step "
                                         "looks up)" if placement == "replicated" else "TorchRec's planner")
        else:
            placement_name = placement
        how = "replicated on every worker, optim.optimizer" if placement == "replicated" else \
            f"sharded by TorchRec, fused {optimizer['optimizer']} lr {optimizer['lr']:g}"
        room = f" of {_gib(budget)}" if budget else ""
        log(f"embedding tables: {len(specs)} ({total / 2**20:,.1f} MiB of weights), {placement_name}: {how}; "
            f"{needed / 2**20:,.1f} MiB per worker{room}")
    return EmbeddingSettings(placement, optimizer, budget, names)


def _placement_for_run(cfg, specs, workers: int, budget: int | None, log) -> str:
    placement = effective_placement(cfg.scaling.embeddings, specs, cfg.optim.batch_size * max(workers, 1))
    if not specs and cfg.scaling.embeddings != "replicated":
        log(f"scaling.embeddings={cfg.scaling.embeddings}: model {cfg.model['name']} declares no embedding tables "
            "(no categorical inputs, or no EmbeddingTables), so anything it embeds is replicated "
            "(see framework.models.EmbeddingTables to shard them)")
    elif placement == "replicated" and cfg.scaling.embeddings == "auto":
        try:  # small tables are replicated only where they fit; else TorchRec's planner shards them
            check_fits(specs, "replicated", workers=max(workers, 1), budget=budget, embedding_optimizer="sgd",
                       dense_optimizer=cfg.optim.optimizer)
        except EmbeddingsDoNotFit:
            return "auto"
    return placement
