"""TorchRec behind `scaling.embeddings`: a model's `EmbeddingTables` sharded with DistributedModelParallel.

Only framework.train imports this module (and only for sharded placements), so scoring and serving
never import TorchRec or FBGEMM. Each `EmbeddingTables` of the model gets its lookup replaced by one
`EmbeddingBagCollection` (one table per categorical input, FBGEMM's table-batched fused kernel); DMP
shards the collections by a plan and wraps the rest of the model in DDP.

Example (inside a worker with a process group):
    >>> sharded = shard_model(model, settings, device, world_size=2)     # doctest: +SKIP
    >>> logits = sharded.model(continuous, categorical)                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from framework.models import TableSpec, embedding_tables_of
from framework.models._embeddings import initial_rows
from framework.train.embeddings import EmbeddingSettings, EmbeddingsDoNotFit, resolve_budget
from framework.train._torchrec_loader import quiet_root_logger  # loads TorchRec and FBGEMM quietly

__all__ = ["ShardedModel", "LocalShard", "shard_model", "local_shards"]


def _collection_name(path: str, spec: TableSpec) -> str:
    return f"{path.replace('.', '_')}__{spec.name}"


class ShardedLookup(nn.Module):
    """categorical [B, k] -> [B, k, D] through one EmbeddingBagCollection (one id per row and table)."""

    def __init__(self, path: str, specs: list[TableSpec]):
        super().__init__()
        import torchrec

        self.path, self.specs = path, specs
        self.features = [f"{_collection_name(path, spec)}_ids" for spec in specs]
        tables = [
            torchrec.EmbeddingBagConfig(name=_collection_name(path, spec), embedding_dim=spec.dim,
                                        num_embeddings=spec.rows, feature_names=[feature],
                                        pooling=torchrec.PoolingType.SUM)
            for spec, feature in zip(specs, self.features)
        ]
        self.collection = torchrec.EmbeddingBagCollection(tables=tables, device=torch.device("meta"))
        self._orders: dict[tuple[str, ...], torch.Tensor | None] = {}

    def forward(self, categorical: torch.Tensor) -> torch.Tensor:
        from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

        batch, count = categorical.shape
        lengths = torch.ones(batch * count, dtype=torch.int32, device=categorical.device)
        ids = KeyedJaggedTensor.from_lengths_sync(keys=self.features, values=categorical.t().reshape(-1), lengths=lengths)
        pooled = self.collection(ids)
        pooled = pooled.wait() if hasattr(pooled, "wait") else pooled
        embedded = pooled.values().view(batch, count, -1)
        order = self._order(tuple(pooled.keys()))
        # A sharded collection groups its outputs by shard, not in feature order: one gather puts them
        # back (slicing each table's columns out would cost a full-size gradient buffer per table).
        return embedded if order is None else embedded.index_select(1, order.to(embedded.device))

    def _order(self, keys: tuple[str, ...]) -> torch.Tensor | None:
        if keys not in self._orders:
            position = {key: index for index, key in enumerate(keys)}
            order = [position[feature] for feature in self.features]
            self._orders[keys] = None if order == list(range(len(order))) else torch.tensor(order)
        return self._orders[keys]


@dataclass
class ShardedModel:
    """The DMP-wrapped model, its dense parameters (for `optim.optimizer`) and the fused table optimizer."""

    model: nn.Module
    dense_parameters: list[tuple[str, nn.Parameter]]
    fused_optimizer: object
    plan_text: str


@dataclass(frozen=True)
class LocalShard:
    """One piece of a table (or of its optimizer state) that this worker holds.

    `table` is the plain state-dict prefix (`inputs.embeddings.3`), `tensor` is `weight` or the
    optimizer state's name; offsets and sizes are in the whole tensor's coordinates. A row-wise
    optimizer state (1-D) belongs to the weight piece whose columns are `columns`."""

    table: str
    tensor: str
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    data: torch.Tensor
    columns: tuple[int, int] | None = None
    component: str = ""  # the EmbeddingTables' module path
    index: int = 0  # the table's index in it


_FUSED_OPTIMIZERS = {"rowwise_adagrad": "EXACT_ROWWISE_ADAGRAD", "adagrad": "EXACT_ADAGRAD", "adam": "ADAM", "sgd": "EXACT_SGD"}


def _sharder(optimizer: dict):
    from fbgemm_gpu.split_embedding_configs import EmbOptimType
    from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
    from torchrec.distributed.types import ShardingType

    class Sharder(EmbeddingBagCollectionSharder):
        # TorchRec offers row-wise sharding on CUDA only; its all-to-all and reduce-scatter run on gloo too.
        def sharding_types(self, compute_device_type: str) -> list[str]:
            return [ShardingType.TABLE_WISE.value, ShardingType.ROW_WISE.value, ShardingType.COLUMN_WISE.value]

    from fbgemm_gpu.split_table_batched_embeddings_ops_training import WeightDecayMode

    fused = {"optimizer": getattr(EmbOptimType, _FUSED_OPTIMIZERS[optimizer["optimizer"]]),
             "learning_rate": optimizer["lr"], "eps": optimizer["eps"], "weight_decay": optimizer["weight_decay"],
             # FBGEMM ignores weight_decay unless told how to apply it
             "weight_decay_mode": WeightDecayMode.L2 if optimizer["weight_decay"] > 0 else WeightDecayMode.NONE}
    return Sharder(fused_params=fused)


def _constraints(settings: EmbeddingSettings, lookups: list[ShardedLookup], world_size: int) -> dict:
    from torchrec.distributed.planner import ParameterConstraints

    allowed = ["table_wise", "row_wise", "column_wise"] if settings.placement == "auto" else [settings.placement]
    constraints = {}
    for lookup in lookups:
        for spec in lookup.specs:
            # column-wise shards need a width divisible by 4: split the columns across the workers where possible
            partition = max(4, spec.dim // max(world_size, 1) // 4 * 4)
            constraints[_collection_name(lookup.path, spec)] = ParameterConstraints(
                sharding_types=allowed, compute_kernels=["fused"], min_partition=partition)
    return constraints


def _plan(model: nn.Module, settings: EmbeddingSettings, lookups, sharder, device: torch.device, world_size: int):
    import torch.distributed as dist
    from torchrec.distributed.planner import EmbeddingShardingPlanner, Topology
    from torchrec.distributed.planner.storage_reservations import FixedPercentageStorageReservation
    from torchrec.distributed.planner.types import PlannerError

    budget = resolve_budget(settings.memory_per_worker, device)
    caps = {"hbm_cap": budget} if device.type == "cuda" else {"ddr_cap": budget}
    topology = Topology(world_size=world_size, compute_device=device.type, **{k: v for k, v in caps.items() if v})
    planner = EmbeddingShardingPlanner(
        topology=topology, constraints=_constraints(settings, lookups, world_size),
        storage_reservation=FixedPercentageStorageReservation(percentage=0.02),
    )
    try:
        return planner.collective_plan(model, [sharder], dist.GroupMember.WORLD)
    except PlannerError as error:
        raise EmbeddingsDoNotFit(
            f"scaling.embeddings={settings.placement}: TorchRec's planner found no placement of the tables within "
            f"{f'{budget:,} bytes' if budget else 'its default memory'} per worker on {world_size} worker(s): "
            f"{str(error).splitlines()[0][:400]}; change "
            "scaling.num_workers, scaling.memory_per_worker or the tables' sizes"
        ) from None


def shard_model(model: nn.Module, settings: EmbeddingSettings, device: torch.device, world_size: int) -> ShardedModel:
    """Replace every EmbeddingTables lookup with a TorchRec collection, then shard it with DMP.

    The model was built with its tables on the meta device (`tables_on_meta`); each worker fills
    the rows it owns with the same initial values the plain tables would have."""
    with quiet_root_logger(), contextlib.redirect_stdout(_Discard()):
        return _shard_model(model, settings, device, world_size)


class _Discard:
    """TorchRec's planner prints its estimator's name to stdout."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _shard_model(model: nn.Module, settings: EmbeddingSettings, device: torch.device, world_size: int) -> ShardedModel:
    from torchrec.distributed.model_parallel import DistributedModelParallel
    from torchrec.optim.optimizers import in_backward_optimizer_filter

    components = embedding_tables_of(model)
    lookups = []
    for path, tables in components:
        lookup = ShardedLookup(path, tables.specs)
        tables.replace_lookup(lookup)
        lookups.append(lookup)
    sharder = _sharder(settings.optimizer)
    plan = _plan(model, settings, lookups, sharder, device, world_size)
    sharded = DistributedModelParallel(model, device=device, plan=plan, sharders=[sharder])
    by_path = dict(components)
    for shard in local_shards(sharded, components, optimizer_state=False):
        tables = by_path[shard.component]
        spec = tables.specs[shard.index]
        rows = initial_rows(tables.init_seed, shard.index, spec.rows, spec.dim,
                            (shard.offsets[0], shard.offsets[0] + shard.sizes[0]),
                            (shard.offsets[1], shard.offsets[1] + shard.sizes[1]))
        shard.data.copy_(rows.to(shard.data.device))
    dense = list(in_backward_optimizer_filter(sharded.named_parameters()))
    return ShardedModel(sharded, dense, sharded.fused_optimizer, str(plan))


def local_shards(sharded: nn.Module, components, optimizer_state: bool = True) -> Iterator[LocalShard]:
    """Every piece of a table (and of its fused optimizer state) held by this worker, as views."""
    names = {_collection_name(path, spec): (path, index) for path, tables in components
             for index, spec in enumerate(tables.specs)}
    weights: dict[str, list[LocalShard]] = {}
    for key, value in sharded.state_dict().items():
        name = key.rsplit(".", 2)[-2] if key.endswith(".weight") else None
        if name in names and hasattr(value, "local_shards"):
            for piece in _pieces(*names[name], "weight", value):
                weights.setdefault(name, []).append(piece)
                yield piece
    if not optimizer_state:
        return
    for values in sharded.fused_optimizer.state_dict()["state"].values():
        for state_name, value in values.items():
            name, _, kind = state_name.rpartition(".")
            if name not in names or not hasattr(value, "local_shards"):
                continue
            for number, piece in enumerate(_pieces(*names[name], kind, value)):
                if len(piece.sizes) == 1:
                    # Row-wise state: TorchRec lists it in the order of the weight pieces, but gives a column
                    # shard's state the offset number x rows; its real rows and columns are its weight piece's.
                    weight = weights[name][number]
                    piece = LocalShard(piece.table, kind, weight.offsets[:1], weight.sizes[:1], piece.data,
                                       (weight.offsets[1], weight.offsets[1] + weight.sizes[1]), piece.component, piece.index)
                yield piece


def _pieces(path: str, index: int, tensor: str, sharded_tensor) -> Iterator[LocalShard]:
    table = f"{path}.{index}" if path else str(index)
    for shard in sharded_tensor.local_shards():
        meta = shard.metadata
        yield LocalShard(table, tensor, tuple(meta.shard_offsets), tuple(meta.shard_sizes), shard.tensor,
                         component=path, index=index)
