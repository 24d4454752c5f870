"""The shipped cluster configs: launcher YAML against Ray's own schema, KubeRay manifests against the
KubeRay CRDs (tests/cluster/kuberay_crds/), and the workload classes every node type or worker group declares."""

from __future__ import annotations

import copy
import functools
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
CRDS = Path(__file__).parent / "kuberay_crds"

CLASSES = frozenset({"train", "sweep", "score", "serve", "nightly"})
LABEL_PREFIX = "raylane.io/workload-"  # node label raylane.io/workload-<class>: "true"
RESOURCE_PREFIX = "raylane_workload_"  # custom resource raylane_workload_<class>: 1000 (Tune trials)
RESOURCE_AMOUNT = 1000
GPU_GROUP = frozenset({"train", "sweep"})
CPU_GROUP = frozenset({"score", "nightly"})
SERVE_GROUP = frozenset({"serve"})
# The class sets of each config's worker node types / groups. The shared clusters have all three; a
# single-purpose RayJob/RayService has only its own; the TPU variant declares nothing (runs anything).
EXPECTED_GROUPS = {
    "aws.yaml": [GPU_GROUP, CPU_GROUP, SERVE_GROUP],
    "gcp.yaml": [GPU_GROUP, CPU_GROUP, SERVE_GROUP],
    "raycluster-gpu.yaml": [GPU_GROUP, CPU_GROUP, SERVE_GROUP],
    "raycluster-tpu.yaml": [frozenset()],
    "rayjob-train.yaml": [GPU_GROUP],
    "rayjob-nightly-score.yaml": [CPU_GROUP],
    "raycronjob-nightly-score.yaml": [CPU_GROUP],
    "rayservice-score.yaml": [SERVE_GROUP],
}
SHARED_CLUSTERS = ("aws.yaml", "gcp.yaml", "raycluster-gpu.yaml")


def _ray_schema() -> dict:
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def test_the_expected_configs_ship():
    assert {p.name for p in LAUNCHER} >= {"aws.yaml", "gcp.yaml"}
    assert len(KUBERAY) >= 5
    assert {p.name for p in [*LAUNCHER, *KUBERAY]} == set(EXPECTED_GROUPS), "every config has its expected classes"


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


def _worker_types(config: dict) -> dict[str, dict]:
    return {name: t for name, t in config["available_node_types"].items() if name != config["head_node_type"]}


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_has_cpu_head_and_bounded_workers(path):
    config = yaml.safe_load(path.read_text())
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0, "the head is a CPU node"
    workers = _worker_types(config)
    assert any(t["resources"].get("GPU", 0) > 0 for t in workers.values()), "a GPU worker type"
    for node_type in workers.values():
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"] <= config["max_workers"]


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_installs_the_right_cupy_extra(path):
    config = yaml.safe_load(path.read_text())
    head_setup = " ".join(config["head_setup_commands"])
    assert "[gpu]" not in head_setup and "cupy" not in head_setup, "the CPU head does not install CuPy"
    # A type's own worker_setup_commands replace setup_commands + worker_setup_commands (what `ray up` runs).
    default_setup = [*config["setup_commands"], *config["worker_setup_commands"]]
    for name, node_type in _worker_types(config).items():
        setup = node_type.get("worker_setup_commands", default_setup)
        assert set(config["setup_commands"]) <= set(setup), f"{name}: token file mode and RAY_AUTH_* env"
        if node_type["resources"].get("GPU", 0) > 0:
            assert "raylane[gpu]" in " ".join(setup), f"{name}: GPU workers install the CuPy extra"
        else:
            assert "[gpu]" not in " ".join(setup) and "cupy" not in " ".join(setup), f"{name}: CPU workers do not"


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


def _closed(schema):
    """The schema with unknown fields refused, as the API server does under `kubectl apply`'s default
    strict field validation: a structural CRD schema prunes (or, strictly, rejects) fields it does not list."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        closed["additionalProperties"] = False
    return closed


@functools.cache
def _crd_validator(kind: str):
    import jsonschema

    schema = json.loads((CRDS / f"ray.io_{kind.lower()}s.json").read_text())
    return jsonschema.Draft4Validator(_closed(schema))  # OpenAPI v3 schemas are JSON Schema draft 4 based


def _crd_errors(doc: dict) -> list[str]:
    errors = _crd_validator(doc["kind"]).iter_errors(doc)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_every_kind_has_a_vendored_crd():
    assert {doc["kind"] for _, doc in DOCS} == {"RayCluster", "RayJob", "RayService", "RayCronJob"}
    for kind in ("RayCluster", "RayJob", "RayService", "RayCronJob"):
        assert (CRDS / f"ray.io_{kind.lower()}s.json").is_file()
    assert re.search(r"KubeRay \*\*v\d+\.\d+\.\d+\*\*", (CRDS / "README.md").read_text()), "the version is noted"


@pytest.mark.parametrize("name, doc", DOCS, ids=[name for name, _ in DOCS])
def test_manifest_matches_the_kuberay_crd(name, doc):
    assert _crd_errors(doc) == []


def test_crd_validation_refuses_unknown_fields_and_wrong_types():
    (cluster,) = [doc for name, doc in DOCS if name == "raycluster-gpu.yaml"]
    typo = copy.deepcopy(cluster)
    typo["spec"]["workerGroupSpecs"][0]["rayStartParam"] = typo["spec"]["workerGroupSpecs"][0].pop("rayStartParams")
    assert any("rayStartParam" in error for error in _crd_errors(typo))
    unquoted = copy.deepcopy(cluster)
    unquoted["spec"]["workerGroupSpecs"][0]["labels"] = {LABEL_PREFIX + "train": True}  # YAML `true`, not "true"
    assert any("labels" in error for error in _crd_errors(unquoted))


@pytest.mark.parametrize("name, doc", DOCS, ids=[name for name, _ in DOCS])
def test_manifest_is_ray_io_v1_with_required_fields(name, doc):
    assert doc["apiVersion"] == "ray.io/v1"
    assert doc["metadata"]["name"]
    spec = doc["spec"]
    if doc["kind"] == "RayJob":
        assert spec["entrypoint"].startswith("python -m jobs.")
        assert "rayClusterSpec" in spec or "clusterSelector" in spec
    if doc["kind"] == "RayCronJob":
        assert re.fullmatch(r"(CRON_TZ=\S+ )?(\S+ ){4}\S+", spec["schedule"]), "five cron fields, a zone at most"
        assert spec["jobTemplate"]["activeDeadlineSeconds"] < 86400, "a run ends before the next one starts"
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
    assert {name for name, _, _ in gpu} >= {"raycluster-gpu.yaml", "rayjob-train.yaml", "rayservice-score.yaml"}


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


# ---- workload classes -------------------------------------------------------------------------------


def _launcher_node_types(path: Path) -> tuple[dict, str]:
    """The node types as `ray up` hands them to the autoscaler, and the head's type name."""
    from ray.autoscaler._private.commands import prepare_config

    logging.getLogger("ray.autoscaler").setLevel(logging.WARNING)
    config = prepare_config(yaml.safe_load(path.read_text()))
    return config["available_node_types"], config["head_node_type"]


def _kuberay_node_types(cluster: dict) -> tuple[dict, str]:
    """The node types Ray's autoscaler derives from a RayCluster spec: the group `labels` and `resources`
    as it sees them (it ignores rayStartParams `labels`)."""
    from ray.autoscaler._private.kuberay.autoscaling_config import _derive_autoscaling_config_from_ray_cr

    ray_cr = {"metadata": {"name": "raylane", "namespace": "default"}, "spec": cluster}
    return _derive_autoscaling_config_from_ray_cr(ray_cr)["available_node_types"], "headgroup"


CONFIGS = [p.name for p in [*LAUNCHER, *KUBERAY]]


@functools.cache
def _node_types(name: str) -> list[tuple[dict, str]]:
    """(node types, head type) of every cluster a config describes, as Ray's autoscaler sees them."""
    if name in {p.name for p in LAUNCHER}:
        return [_launcher_node_types(REPO / "cluster" / "launcher" / name)]
    return [_kuberay_node_types(cluster) for found, doc in DOCS if found == name for cluster in _cluster_specs(doc)]


def _declared_classes(node_type: dict) -> frozenset[str]:
    """The classes a node type accepts; fails unless its labels and custom resources name the same
    classes, spelt exactly raylane.io/workload-<class>: "true" and raylane_workload_<class>: 1000."""
    labels = {k: v for k, v in node_type.get("labels", {}).items() if "raylane" in k or "workload" in k}
    resources = {k: v for k, v in node_type["resources"].items() if "raylane" in k or "workload" in k}
    by_label = {k.removeprefix(LABEL_PREFIX) for k in labels}
    by_resource = {k.removeprefix(RESOURCE_PREFIX) for k in resources}
    assert by_label <= CLASSES and set(labels) == {LABEL_PREFIX + c for c in by_label}, labels
    assert by_resource <= CLASSES and set(resources) == {RESOURCE_PREFIX + c for c in by_resource}, resources
    assert set(labels.values()) <= {"true"} and set(resources.values()) <= {RESOURCE_AMOUNT}
    assert by_label == by_resource, "label selectors and Tune's custom resources must agree"
    return frozenset(by_label)


@pytest.mark.parametrize("name", CONFIGS)
def test_each_group_declares_its_workload_classes(name):
    assert _node_types(name), "a cluster"
    for types, head in _node_types(name):
        assert _declared_classes(types[head]) == frozenset(), "the head declares no class: drivers only"
        groups = [_declared_classes(t) for type_name, t in types.items() if type_name != head]
        assert sorted(groups, key=sorted) == sorted(EXPECTED_GROUPS[name], key=sorted)


@pytest.mark.parametrize("name", CONFIGS)
def test_train_and_sweep_run_on_gpus_and_score_and_nightly_on_cpus(name):
    for types, _ in _node_types(name):
        for type_name, node_type in types.items():
            gpus = node_type["resources"].get("GPU", 0)
            if _declared_classes(node_type) == GPU_GROUP:
                assert gpus >= 1, f"{type_name}: the train/sweep group has GPUs"
            if _declared_classes(node_type) == CPU_GROUP:
                assert gpus == 0, f"{type_name}: the score/nightly group is CPU only"


@pytest.mark.parametrize("name", SHARED_CLUSTERS)
def test_a_shared_cluster_accepts_every_class(name):
    for types, _ in _node_types(name):
        assert frozenset().union(*map(_declared_classes, types.values())) == CLASSES


@pytest.mark.parametrize("name, doc", DOCS, ids=[name for name, _ in DOCS])
def test_kuberay_groups_use_the_top_level_labels_and_resources_fields(name, doc):
    # KubeRay >= 1.5 rejects rayStartParams["labels"] and refuses resources in both places.
    for cluster in _cluster_specs(doc):
        for group in [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]:
            assert "labels" not in group["rayStartParams"] and "resources" not in group["rayStartParams"]
            if group.get("resources"):
                assert not {"num-cpus", "num-gpus", "memory"} & set(group["rayStartParams"])


def test_the_shared_kuberay_cluster_scales_groups_by_label():
    (cluster,) = [doc["spec"] for name, doc in DOCS if name == "raycluster-gpu.yaml"]
    assert cluster["enableInTreeAutoscaling"] and cluster["autoscalerOptions"]["version"] == "v2"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydantic v1-style Fields inside ray.serve
def test_serve_replicas_are_pinned_to_serve_nodes():
    from ray.serve.schema import ServeDeploySchema

    (service,) = [doc for name, doc in DOCS if name == "rayservice-score.yaml"]
    serve = ServeDeploySchema.model_validate(yaml.safe_load(service["spec"]["serveConfigV2"]))
    for app in serve.applications:
        for deployment in app.deployments:
            # ray_actor_options given here replace the app's own, selector included
            assert deployment.ray_actor_options.label_selector == {LABEL_PREFIX + "serve": "true"}
