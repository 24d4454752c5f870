"""What a job asks of the cluster: fits, fitted by raylane (one line says so), waits for an autoscaler,
or refused at once naming the keys. No Ray: clusters are plain values here."""

from __future__ import annotations

import pytest

from framework.capacity import Ask, Cluster, ClusterTooSmall, check_fits, fitted_share
from framework.config import load_config
from framework.train.cluster_fit import fit_to_cluster

TWO_CPUS = Cluster(total={"CPU": 2.0, "memory": 8e9}, largest_node={"CPU": 2.0, "memory": 8e9})
SMALL = "jobs/configs/train_small.yaml"


def _train(*overrides):
    return load_config(SMALL, ["run.name=t", *overrides], kind="train")[1]


def test_fitted_share_leaves_the_data_tasks_room_in_quarter_steps():
    assert fitted_share("CPU", 2, TWO_CPUS, beside=0.5) == 0.75  # (2 - 0.5) / 2
    assert fitted_share("CPU", 4, TWO_CPUS, beside=0.5) == 0.25  # 0.375 rounded down
    assert fitted_share("CPU", 1, TWO_CPUS, beside=0.5) == 1.0  # never more than Ray's default
    assert fitted_share("CPU", 8, TWO_CPUS, beside=0.5) == 0.0


def test_unpinned_workers_are_fitted_to_a_small_cluster_and_it_is_said():
    lines = []
    cfg = fit_to_cluster(_train("scaling.num_workers=2", "scaling.resources_per_worker=null"), TWO_CPUS, lines.append)
    assert cfg.scaling.resources_per_worker == {"CPU": 0.5}  # (2 CPU - 1 for Ray Data) / 2
    assert lines == ["scaling.resources_per_worker not set: each of 2 worker(s) takes 0.5 CPU, leaving 1 CPU "
                     "for Ray Data tasks on this 2-CPU cluster"]
    big = Cluster(total={"CPU": 16.0}, largest_node={"CPU": 16.0})
    unchanged = _train("scaling.num_workers=2", "scaling.resources_per_worker=null")
    assert fit_to_cluster(unchanged, big, lines.append) is unchanged and len(lines) == 1


def test_pinned_workers_that_cannot_run_fail_fast_naming_the_keys():
    cfg = _train("scaling.num_workers=2", "scaling.resources_per_worker={CPU: 1}")
    with pytest.raises(ClusterTooSmall) as error:
        fit_to_cluster(cfg, TWO_CPUS, print)
    message = str(error.value)
    assert message.startswith("scaling.num_workers, scaling.resources_per_worker: 2 training worker(s) x {CPU: 1} "
                              "plus {CPU: 1} for Ray Data tasks cannot run on this cluster")
    assert "CPU: asks 3 in all, the cluster has 2" in message and "cluster total {CPU: 2, memory: 8e+09}" in message


def test_a_worker_larger_than_any_node_and_a_missing_custom_resource_are_named():
    two_nodes = Cluster(total={"CPU": 8.0}, largest_node={"CPU": 4.0})
    with pytest.raises(ClusterTooSmall, match="CPU: one unit asks 6, the largest node has 4"):
        fit_to_cluster(_train("scaling.num_workers=1", "scaling.resources_per_worker={CPU: 6}"), two_nodes, print)
    with pytest.raises(ClusterTooSmall, match="ssd: asks 2 in all, the cluster has 0"):
        fit_to_cluster(_train("scaling.num_workers=2", "scaling.resources_per_worker={CPU: 0.5, ssd: 1}"), TWO_CPUS, print)
    with pytest.raises(ClusterTooSmall, match=r"scaling.num_workers, scaling.use_gpu: 2 GPU worker\(s\) x \{GPU: 1\}"):
        fit_to_cluster(_train("scaling.num_workers=2", "scaling.use_gpu=true", "scaling.resources_per_worker=null"), TWO_CPUS, print)


def test_an_autoscaling_cluster_that_can_grow_waits_and_says_what_is_pending():
    growing = Cluster(total={"CPU": 2.0}, largest_node={"CPU": 2.0}, ceiling={"CPU": 64.0, "GPU": 8.0})
    lines = []
    cfg = _train("scaling.num_workers=4", "scaling.resources_per_worker={CPU: 4, GPU: 1}")
    assert fit_to_cluster(cfg, growing, lines.append) is cfg
    assert lines[0].startswith("waiting for the autoscaler: 4 training worker(s) x {CPU: 4, GPU: 1} plus {CPU: 1} "
                               "for Ray Data tasks pending (CPU: asks 17 in all, the cluster has 2")
    with pytest.raises(ClusterTooSmall):  # beyond even the ceiling
        check_fits(Ask("x", ("k",), 20, {"CPU": 4.0}), growing)


def test_elastic_workers_are_capped_where_more_would_starve_the_data_tasks():
    lines = []
    cfg = fit_to_cluster(_train("scaling.num_workers=[1, 4]", "scaling.resources_per_worker={CPU: 0.25}"), TWO_CPUS, lines.append)
    assert tuple(cfg.scaling.num_workers) == (1, 4)  # 4 x 0.25 + 1 = 2
    cfg = fit_to_cluster(_train("scaling.num_workers=[1, 4]", "scaling.resources_per_worker={CPU: 0.5}"), TWO_CPUS, lines.append)
    assert tuple(cfg.scaling.num_workers) == (1, 2)  # 2 x 0.5 + 1 = 2
    assert lines == ["scaling.num_workers: [1, 4] runs at most 2 worker(s) here: more would leave Ray Data tasks "
                     "no room on this cluster"]


def test_a_scoring_pool_is_fitted_when_automatic_and_refused_when_pinned_too_large():
    from framework.score._pool import check_pool_fits, pool_shape
    from framework.score.config import PoolSection

    big_actors = PoolSection(actors="auto", cpus_per_actor=2.0)
    assert pool_shape(big_actors, TWO_CPUS.total, tasks=10).max_size == 1  # not 2 actors x 2 CPU on 2 CPUs
    assert pool_shape(PoolSection(), TWO_CPUS.total, tasks=10).max_size == 2  # the default: one per core, 0.5 CPU each
    pinned = PoolSection(actors=8, cpus_per_actor=0.5)
    with pytest.raises(ClusterTooSmall, match=r"pool.actors, pool.cpus_per_actor: 8 scoring actor\(s\) x \{CPU: 0.5\} "
                                              r"cannot run on this cluster \(CPU: asks 4 in all, the cluster has 2"):
        check_pool_fits(pinned, pool_shape(pinned, TWO_CPUS.total, tasks=10), TWO_CPUS, print)


def test_serve_replicas_that_cannot_be_placed_are_refused_before_serve_run():
    from framework.config import validate_mapping
    from framework.serve._runner import check_replicas_fit

    mapping = {"model": {"path": "runs/x/bundle"}, "deployment": {"num_replicas": 5, "num_cpus": 1}}
    cfg = validate_mapping(mapping, "serve", "test")[1]
    with pytest.raises(ClusterTooSmall, match=r"deployment.num_replicas, deployment.num_cpus: 5 Serve replica\(s\) x "
                                              r"\{CPU: 1\} cannot run on this cluster \(CPU: asks 5 in all, the cluster has 2"):
        check_replicas_fit(cfg, TWO_CPUS)
    fitting = validate_mapping({**mapping, "deployment": {"num_replicas": 2, "num_cpus": 0.5}}, "serve", "test")[1]
    check_replicas_fit(fitting, TWO_CPUS)
