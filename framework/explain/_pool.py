"""Ray at the edge of `raylane explain`: the permutations run in a Ray Data actor pool.

The dataset is the list of permutations (`ray.data.from_items`); `map_batches` runs
`PermutationActor` in an `ActorPoolStrategy` pool. Each actor loads the bundle once through
`BundleScorer` (the scorer of batch scoring and serving), takes the sample from the object store
and returns one small result per permutation. Actors reserve half a CPU, so Ray Data's own tasks
still find one on a small machine (see framework.score._pool). They are not restarted: their
constructor argument (the sample) lives in the object store, where Ray warns that a restart may not
find it (ray#53727); an explain that loses an actor fails with Ray's error and is simply rerun.

Example:
    >>> results = run_permutations(bundle_dir, sample, "label", settings, permutations(columns, 3))  # doctest: +SKIP
"""

from __future__ import annotations

import json

import pyarrow as pa

from framework.explain.importance import Permutation, PermutationScorer
from framework.explain.settings import ExplainSettings

__all__ = ["PermutationActor", "pool_size", "run_permutations"]

ACTOR_CPUS = 0.5


class PermutationActor:
    """A Ray Data callable class: rows {"permutation": [column, repeat]} in, {"result": json} out."""

    def __init__(self, model: str, sample: list, label: str, settings: dict):
        import ray

        from framework.score.scorer import BundleScorer

        table = ray.get(sample[0])  # wrapped in a list, so Ray hands the reference over unresolved
        self.scorer = PermutationScorer(BundleScorer(model).score, table, label, ExplainSettings(**settings))

    def __call__(self, batch: pa.Table) -> pa.Table:
        results = [self.scorer.run(Permutation(*json.loads(text))) for text in batch["permutation"].to_pylist()]
        return pa.table({"result": [json.dumps(result) for result in results]})


def pool_size(cluster_cpus: float, permutations: int, actors: int | None = None) -> int:
    """`actors` when given, else one per CPU of the cluster; never more than there are permutations."""
    return max(1, min(actors or int(cluster_cpus), permutations))


def run_permutations(model: str, sample: pa.Table, label: str, settings: ExplainSettings,
                     work: list[Permutation], actors: int | None = None) -> list[dict]:
    """Every permutation's result (in completion order), scored by the bundle at `model` in Ray actors."""
    import dataclasses
    import warnings

    from framework.ray_session import ensure_ray

    ray = ensure_ray()
    size = pool_size(ray.cluster_resources().get("CPU", 1), len(work), actors)
    rows = [{"permutation": json.dumps([p.column, p.repeat])} for p in work]
    dataset = ray.data.from_items(rows, override_num_blocks=min(len(rows), 4 * size))
    dataset.context.execution_options.preserve_order = False  # each result names its permutation
    with warnings.catch_warnings():
        # Ray 2.60 has no named parameter for max_restarts and flags every extra remote argument as deprecated
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated", category=DeprecationWarning)
        results = dataset.map_batches(
            PermutationActor,
            fn_constructor_kwargs={"model": model, "sample": [ray.put(sample)], "label": label,
                                   "settings": dataclasses.asdict(settings)},
            compute=ray.data.ActorPoolStrategy(min_size=size, max_size=size),
            batch_size=1, batch_format="pyarrow", num_cpus=ACTOR_CPUS, max_restarts=0,
        )
    return [json.loads(row["result"]) for row in results.iter_rows()]
