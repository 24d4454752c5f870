"""The shipped cluster configs: launcher YAML against Ray's own schema, KubeRay manifests by structure."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = sorted((REPO / "cluster" / "launcher").glob("*.yaml"))
KUBERAY = sorted((REPO / "cluster" / "kuberay").glob("*.yaml"))
RAY_VERSION = "2.60.0"


def _ray_schema() -> dict:
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def test_the_expected_configs_ship():
    assert {p.name for p in LAUNCHER} >= {"aws.yaml", "gcp.yaml"}
    assert len(KUBERAY) >= 5


# ---- cluster launcher -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_config_matches_rays_schema(path):
    import jsonschema
    from ray.autoscaler._private.commands import prepare_config
    from ray.autoscaler._private.util import validate_config

    config = yaml.safe_load(path.read_text())
    jsonschema.validate(config, _ray_schema())
    logging.getLogger("ray.autoscaler").setLevel(logging.WARNING)  # prepare_config logs INFO to a captured stream
    validate_config(prepare_config(config))  # what `ray up` runs: defaults filled in, then the same schema


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_has_cpu_head_and_bounded_gpu_workers(path):
    config = yaml.safe_load(path.read_text())
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0, "the head is a CPU node"
    gpu_types = {name: t for name, t in types.items() if t["resources"].get("GPU", 0) > 0}
    assert gpu_types, "a GPU worker type"
    for node_type in gpu_types.values():
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"] <= config["max_workers"]


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_installs_the_right_cupy_extra(path):
    config = yaml.safe_load(path.read_text())
    head_setup = " ".join(config["head_setup_commands"])
    worker_setup = " ".join(config["worker_setup_commands"])
    assert "raylane[gpu]" in worker_setup, "GPU workers install the CuPy extra"
    assert "[gpu]" not in head_setup and "cupy" not in head_setup, "the CPU head does not"


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_turns_token_auth_on_and_keeps_the_dashboard_on_loopback(path):
    config = yaml.safe_load(path.read_text())
    assert any(target.endswith(".raylane/ray/auth_token") for target in config["file_mounts"])
    for command in [*config["head_start_ray_commands"], *config["worker_start_ray_commands"]]:
        if "ray start" in command:
            assert "RAY_AUTH_MODE=token" in command and "RAY_AUTH_TOKEN_PATH=" in command
    head_start = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start


# ---- KubeRay ----------------------------------------------------------------------------------------


def _documents() -> list[tuple[str, dict]]:
    return [(p.name, doc) for p in KUBERAY for doc in yaml.safe_load_all(p.read_text()) if doc]


def _cluster_specs(doc: dict) -> list[dict]:
    """The RayCluster specs inside any KubeRay resource."""
    spec = doc["spec"]
    kind = doc["kind"]
    if kind == "RayCluster":
        return [spec]
    if kind == "RayJob":
        return [spec["rayClusterSpec"]] if "rayClusterSpec" in spec else []
    if kind == "RayCronJob":
        return [spec["jobTemplate"]["rayClusterSpec"]]
    if kind == "RayService":
        return [spec["rayClusterConfig"]]
    raise AssertionError(f"unexpected kind {kind}")


def _containers(group: dict) -> list[dict]:
    return group["template"]["spec"]["containers"]


DOCS = _documents()


@pytest.mark.parametrize("name, doc", DOCS, ids=[name for name, _ in DOCS])
def test_manifest_is_ray_io_v1_with_required_fields(name, doc):
    assert doc["apiVersion"] == "ray.io/v1"
    assert doc["metadata"]["name"]
    spec = doc["spec"]
    if doc["kind"] == "RayJob":
        assert spec["entrypoint"].startswith("python -m jobs.")
        assert "rayClusterSpec" in spec or "clusterSelector" in spec
    if doc["kind"] == "RayCronJob":
        assert len(spec["schedule"].split()) == 5
        assert spec["jobTemplate"]["entrypoint"].startswith("python -m jobs.")
    if doc["kind"] == "RayService":
        serve = yaml.safe_load(spec["serveConfigV2"])
        assert serve["applications"][0]["import_path"]
    for cluster in _cluster_specs(doc):
        assert cluster["rayVersion"] == RAY_VERSION
        assert cluster["authOptions"]["mode"] == "token", "token auth on every cluster"
        assert cluster["headGroupSpec"].get("serviceType", "ClusterIP") != "LoadBalancer"
        assert _containers(cluster["headGroupSpec"]), "a head container"
        for group in cluster.get("workerGroupSpecs", []):
            assert group["groupName"] and _containers(group)
            assert group.get("minReplicas", 0) <= group.get("replicas", 0) <= group.get("maxReplicas", 0)


@pytest.mark.parametrize("name, doc", DOCS, ids=[name for name, _ in DOCS])
def test_images_are_pinned_and_match_the_accelerator(name, doc):
    for cluster in _cluster_specs(doc):
        groups = [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]
        for group in groups:
            for container in _containers(group):
                image = container["image"]
                assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), image
                limits = container.get("resources", {}).get("limits", {})
                if "nvidia.com/gpu" in limits:
                    assert image.endswith("-gpu"), f"{image}: GPU pods need the CUDA image"
                    assert container["resources"]["requests"]["nvidia.com/gpu"] == limits["nvidia.com/gpu"]
                if "google.com/tpu" in limits:
                    assert image.endswith("-tpu"), f"{image}: TPU pods need the torch_xla image"


def _worker_limits(kind_filter) -> list[tuple[str, dict, dict]]:
    found = []
    for name, doc in DOCS:
        for cluster in _cluster_specs(doc):
            for group in cluster.get("workerGroupSpecs", []):
                for container in _containers(group):
                    if kind_filter(container["resources"]["limits"]):
                        found.append((name, group, container))
    return found


def test_gpu_worker_groups_request_gpus():
    gpu = _worker_limits(lambda limits: int(limits.get("nvidia.com/gpu", 0)) > 0)
    assert {name for name, _, _ in gpu} >= {
        "raycluster-gpu.yaml", "rayjob-train.yaml", "rayjob-nightly-score.yaml", "rayservice-score.yaml",
    }  # fmt: skip


def test_tpu_variant_uses_gke_tpu_selectors_and_resource():
    tpu = _worker_limits(lambda limits: int(limits.get("google.com/tpu", 0)) > 0)
    assert tpu, "a TPU worker group"
    for _, group, container in tpu:
        selector = group["template"]["spec"]["nodeSelector"]
        assert selector["cloud.google.com/gke-tpu-accelerator"].startswith("tpu-")
        assert re.fullmatch(r"\d+x\d+(x\d+)?", selector["cloud.google.com/gke-tpu-topology"])
        assert group["numOfHosts"] >= 1
        assert container["resources"]["requests"]["google.com/tpu"] == container["resources"]["limits"]["google.com/tpu"]


def test_training_nightly_and_serving_resources_exist():
    kinds = {(doc["kind"], name) for name, doc in DOCS}
    assert ("RayJob", "rayjob-train.yaml") in kinds
    assert ("RayJob", "rayjob-nightly-score.yaml") in kinds
    assert ("RayCronJob", "raycronjob-nightly-score.yaml") in kinds
    assert ("RayService", "rayservice-score.yaml") in kinds
    entrypoints = {name: doc["spec"].get("entrypoint", "") for name, doc in DOCS}
    assert entrypoints["rayjob-train.yaml"].startswith("python -m jobs.train ")
    assert entrypoints["rayjob-nightly-score.yaml"].startswith("python -m jobs.nightly ")


def test_docker_images_build_on_the_same_ray_version():
    dockerfile = (REPO / "cluster" / "docker" / "Dockerfile").read_text()
    bases = re.findall(r"^FROM rayproject/ray:(\S+)", dockerfile, flags=re.M)
    assert bases and all(tag.startswith(RAY_VERSION) for tag in bases)
    assert any(tag.endswith("-gpu") for tag in bases)
