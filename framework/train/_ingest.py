"""How the train and valid datasets reach the workers: `RaylaneDataConfig`, a Ray Train DataConfig.

- train, materialized (data.cache): split once into equal contiguous row ranges (the last
  rows % workers rows dropped), one plain iterator per worker.
  Ray's default `streaming_split` routes every batch of every epoch through a coordinator actor,
  which competes with the workers for CPU; blocks already in the object store need none of that.
- train, streamed: Ray's `streaming_split(equal=True)` (locality hints on several nodes).
- valid: never a row dropped, since its metrics are exact over the whole set. Materialized, it is
  split into row ranges that differ by at most one row; streamed, `streaming_split(equal=False)`,
  where a worker may receive fewer batches than another, or none (evaluation allows that).
"""

from __future__ import annotations

from ray.train import DataConfig

__all__ = ["RaylaneDataConfig", "row_ranges", "EXACT_DATASETS"]

EXACT_DATASETS = frozenset({"valid"})  # every row counts: no row may be dropped to even the shards


def row_ranges(rows: int, parts: int) -> list[int]:
    """The cut points of `rows` rows into `parts` ranges differing by at most one row (for split_at_indices)."""
    base, extra = divmod(rows, parts)
    cuts, position = [], 0
    for index in range(parts - 1):
        position += base + (1 if index < extra else 0)
        cuts.append(position)
    return cuts


class RaylaneDataConfig(DataConfig):
    """Splits materialized datasets once per worker group; streamed ones through Ray's streaming_split."""

    def configure(self, datasets: dict, world_size: int, worker_handles, worker_node_ids, **kwargs) -> list[dict]:
        from ray.data.dataset import MaterializedDataset

        output: list[dict] = [{} for _ in range(world_size)]
        for name, dataset in datasets.items():
            exact = name in EXACT_DATASETS
            if isinstance(dataset, MaterializedDataset):
                shards = self._split_materialized(dataset, world_size, exact)
                for rank, shard in enumerate(shards):
                    output[rank][name] = shard.iterator()
                continue
            streamed = dataset.copy(dataset)
            streamed.context.execution_options = self._resolve_execution_options(name)
            hints = worker_node_ids if self._enable_shard_locality else None
            for rank, split in enumerate(streamed.streaming_split(world_size, equal=not exact, locality_hints=hints)):
                output[rank][name] = split
        return output

    @staticmethod
    def _split_materialized(dataset, world_size: int, exact: bool) -> list:
        if world_size == 1:
            return [dataset]
        rows = dataset.count()
        if exact:
            return dataset.split_at_indices(row_ranges(rows, world_size))
        # Equal contiguous row ranges, the last rows % world_size rows dropped. Unlike split(equal=True), which
        # deals out whole blocks, the shards do not depend on how Ray Data cut the blocks.
        per_worker = rows // world_size
        return dataset.split_at_indices([per_worker * rank for rank in range(1, world_size + 1)])[:world_size]
