"""Ray at the edge: the TorchTrainer run behind `run_training`."""

from __future__ import annotations

import json
import math
from pathlib import Path

from framework.errors import RaylaneError
from framework.lineage import collect_lineage, config_hash
from framework.ray_session import ensure_ray
from framework.train.config import TrainConfig
from framework.train.data import DATA_TASK_CPUS, build_dataset, cache_in_object_store, raw_row_bytes, transform_in_workers
from framework.train.loop import LoopSettings, train_loop_per_worker
from framework.train.result import TrainResult, run_directory
from framework.train.scaling import scaling_config_kwargs, torch_config

_FEATURES_STAMP = "features.json"


class TrainingFailed(RaylaneError):
    """Ray Train gave up: the workers failed more often than run.max_failures allows."""

    exit_code = 1


def _log(message: str) -> None:
    print(f"[train] {message}", flush=True)


def fit_pipeline(cfg: TrainConfig, run_dir: Path):
    """Fit the features on the training data once per run; a resumed run reuses the artifact."""
    from framework.data.parquet_io import list_parquet_files, read_dataset
    from framework.features import FeaturePipeline

    features = cfg.features.model_dump(mode="json")
    pipeline_dir, stamp = run_dir / "pipeline", run_dir / _FEATURES_STAMP
    if pipeline_dir.exists() and stamp.exists() and json.loads(stamp.read_text()).get("hash") == config_hash(features):
        _log(f"reusing the fitted feature pipeline in {pipeline_dir}")
        return FeaturePipeline.load(pipeline_dir), pipeline_dir
    pipeline = FeaturePipeline.from_yaml_dict(features)
    files = list_parquet_files(cfg.data.train, partition_types=partition_types(cfg))
    columns = pipeline.input_columns() + [c for c in [cfg.features.id_column] if c]
    dataset = read_dataset(files, list(dict.fromkeys(columns)), num_cpus=DATA_TASK_CPUS,
                           remote_args=placement_of(cfg).remote_args())
    _log(f"fitting {len(cfg.features.ops)} feature op(s) on {len(files.paths)} training file(s)")
    pipeline.fit(dataset)
    run_dir.mkdir(parents=True, exist_ok=True)
    pipeline.save(pipeline_dir)
    stamp.write_text(json.dumps({"hash": config_hash(features)}))
    return pipeline, pipeline_dir


def placement_of(cfg: TrainConfig):
    """Which nodes this run's workers and Ray Data tasks may use (its `workload:` class)."""
    from framework.workload import resolve_placement

    return resolve_placement(cfg.workload)


def partition_types(cfg: TrainConfig):
    """The contract's types, for hive partition columns read from the data's paths."""
    from framework.data import load_contract

    return load_contract(cfg.data.contract).arrow_schema()


def _run_config(cfg: TrainConfig, run_dir: Path, callbacks: tuple = ()):
    from ray.train import CheckpointConfig, FailureConfig, RunConfig

    checkpoint = cfg.run.checkpoint
    return RunConfig(
        name=cfg.run.name,
        storage_path=str(run_dir.parent),
        failure_config=FailureConfig(max_failures=cfg.run.max_failures),
        checkpoint_config=CheckpointConfig(
            num_to_keep=checkpoint.keep,
            checkpoint_score_attribute=checkpoint.metric,
            checkpoint_score_order=checkpoint.mode,
        ),
        callbacks=list(callbacks) or None,
    )


def _write_bundle(cfg: TrainConfig, run_dir: Path, pipeline, checkpoint_dir: str, metrics: dict, lineage: dict) -> Path:
    from framework.models import build_model, save_bundle, validate_model_config
    from framework.train.checkpoint import load_checkpoint

    schema = pipeline.output_schema
    model_config = validate_model_config(cfg.model)
    cardinalities = list(schema.categorical.values())
    model = build_model(model_config, len(schema.continuous), cardinalities, seed=cfg.run.seed)
    load_checkpoint(checkpoint_dir, model, restore_rng=False)
    from framework.train.publish import bundle_documents

    documents = bundle_documents(pipeline, model, name=cfg.registry.name or cfg.run.name, config=cfg.model_dump(mode="json"),
                                 valid_source=cfg.data.valid, label=cfg.label, metrics=metrics, lineage=lineage, card=cfg.card,
                                 explain=cfg.explain)
    return save_bundle(
        run_dir / "bundle",
        model=model,
        model_config=model_config,
        continuous_columns=list(schema.continuous),
        categorical_columns=list(schema.categorical),
        cardinalities=cardinalities,
        pipeline=pipeline,
        metrics=metrics,
        contract_path_or_text=cfg.data.contract,
        lineage=lineage,
        documents=documents,
    )


def build_trainer(
    cfg: TrainConfig,
    pipeline,
    pipeline_dir: Path,
    train_rows: int,
    *,
    callbacks: tuple = (),
    loop=train_loop_per_worker,
    fault_injection: dict | None = None,
    checkpoint_every_epoch: bool = True,
    datasets: dict | None = None,
    progress_beacon: str | None = None,
):
    """The TorchTrainer of a run: its loop settings, datasets, scaling and RunConfig.

    A Tune trial passes `callbacks=(TuneReportCallback(),)`, or, with `scaling.num_workers: 0`
    (Ray Train's in-process mode, where `ray.train.*` raises inside Tune), a `loop` that reports
    to Ray Tune instead; `datasets` replaces the train/valid datasets of `build_datasets` (a sweep
    shares one materialized copy between its trials). Example:
        >>> trainer = build_trainer(cfg, pipeline, run_dir / "pipeline", train_rows=200_000)
        >>> result = trainer.fit()
    """
    import ray
    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer

    from framework.train._ingest import RaylaneDataConfig

    from framework.train.embeddings import settings_for_run

    schema = pipeline.output_schema
    scaling = scaling_config_kwargs(cfg.scaling, ray.cluster_resources().get("GPU", 0))
    selector = placement_of(cfg).label_selector()
    if selector:
        scaling["label_selector"] = selector
    in_workers = run_transforms_in_workers(cfg)
    workers = scaling["num_workers"]
    max_workers = max(workers[1] if isinstance(workers, tuple) else workers, 1)
    min_workers = max(workers[0] if isinstance(workers, tuple) else workers, 1)
    embeddings = settings_for_run(cfg, schema, min_workers, scaling["use_gpu"], log=_log, most_workers=max_workers)
    settings = LoopSettings(
        model_config=cfg.model,
        num_continuous=len(schema.continuous),
        cardinalities=list(schema.categorical.values()),
        optim=cfg.optim.model_dump(),
        seed=cfg.run.seed,
        steps_per_epoch=math.ceil(train_rows / (cfg.optim.batch_size * max_workers)),
        checkpoint_every_n_steps=cfg.run.checkpoint.every_n_steps,
        metric=cfg.run.checkpoint.metric,
        mode=cfg.run.checkpoint.mode,
        fault_injection=fault_injection,
        checkpoint_every_epoch=checkpoint_every_epoch,
        worker_transform={"pipeline_dir": str(pipeline_dir), "label": cfg.label} if in_workers else None,
        embeddings=embeddings.to_dict(),
        progress_beacon=progress_beacon,
    )
    return TorchTrainer(
        loop,
        train_loop_config=settings.to_dict(),
        torch_config=torch_config(scaling.get("use_tpu", False)),
        scaling_config=ScalingConfig(**scaling),
        run_config=_run_config(cfg, run_directory(cfg), callbacks),
        datasets=datasets or build_datasets(cfg, pipeline, pipeline_dir),
        dataset_config=RaylaneDataConfig(),
    )


def run_transforms_in_workers(cfg: TrainConfig) -> bool:
    """Whether this run's training workers transform their own data (`data.transform`)."""
    import ray

    scaling = scaling_config_kwargs(cfg.scaling, ray.cluster_resources().get("GPU", 0))
    return transform_in_workers(cfg.data.transform, scaling["use_gpu"])


def _input_columns(cfg: TrainConfig, pipeline) -> list[str]:
    return pipeline.input_columns() + [c for c in [cfg.features.id_column] if c]


def build_datasets(cfg: TrainConfig, pipeline, pipeline_dir: Path) -> dict:
    """The train (out-of-fold encodings) and valid Ray Datasets of a run: lazily transformed, or the
    raw columns when the workers transform them (`data.transform`)."""
    inputs, in_workers, types = _input_columns(cfg, pipeline), run_transforms_in_workers(cfg), partition_types(cfg)
    remote_args = placement_of(cfg).remote_args()
    return {
        "train": build_dataset(cfg.data.train, pipeline_dir, cfg.label, True, inputs, in_workers, types, remote_args),
        "valid": build_dataset(cfg.data.valid, pipeline_dir, cfg.label, False, inputs, in_workers, types, remote_args),
    }


def materialized(datasets: dict, log=None) -> dict:
    """Every dataset executed once into Ray's object store; each epoch then iterates those blocks."""
    shared = {name: dataset.materialize() for name, dataset in datasets.items()}
    if log:
        sizes = ", ".join(f"{name} {dataset.size_bytes() / 2**20:.1f} MiB" for name, dataset in shared.items())
        log(f"training data cached in the object store ({sizes})")
    return shared


def cached_datasets(cfg: TrainConfig, pipeline, pipeline_dir: Path, rows: int, log=None) -> dict | None:
    """Train and valid executed into the object store when `data.cache` says so for `rows` rows, else None."""
    import ray

    store = ray.cluster_resources().get("object_store_memory", 0)
    nodes = sum(1 for node in ray.nodes() if node["Alive"])
    row_bytes = None
    if run_transforms_in_workers(cfg):  # raw columns are cached, not model arrays
        row_bytes = raw_row_bytes(cfg.data.train, _input_columns(cfg, pipeline) + [cfg.label])
    if not cache_in_object_store(cfg.data.cache, rows, pipeline.output_schema, store, nodes, row_bytes):
        return None
    return materialized(build_datasets(cfg, pipeline, pipeline_dir), log)


def run_datasets(cfg: TrainConfig, pipeline, pipeline_dir: Path, rows: int) -> dict:
    """The run's datasets: cached in the object store when `data.cache` says so, else streamed each epoch."""
    return cached_datasets(cfg, pipeline, pipeline_dir, rows, _log) or build_datasets(cfg, pipeline, pipeline_dir)


def train_with_ray(cfg: TrainConfig, fault_injection: dict | None = None) -> TrainResult:
    """Fit the run to the cluster, then features → data → Ray Train, under the stall watchdog."""
    from framework.capacity import Cluster
    from framework.train.cluster_fit import fit_to_cluster
    from framework.watchdog import StallWatchdog
    from framework.workload import resolve_placement

    from framework.console import LOG_FILE, log_to

    log_to(run_directory(cfg) / LOG_FILE)  # before Ray starts: its first lines belong to this run
    ray = ensure_ray()
    placement = resolve_placement(cfg.workload, log=_log)
    if placement.constrained:
        _log(f"workload {cfg.workload}: workers and data tasks run only on the nodes that accept it")
    cfg = fit_to_cluster(cfg, Cluster.from_ray(placement), _log)
    with StallWatchdog("train", cfg.run.stall_timeout_s, log=print) as watchdog:
        return _train_watched(ray, cfg, fault_injection, watchdog)


def _train_watched(ray, cfg: TrainConfig, fault_injection, watchdog) -> TrainResult:
    from framework.watchdog import start_beacon

    run_dir = run_directory(cfg)
    config_dict = cfg.model_dump(mode="json")
    lineage = collect_lineage(config_dict, {"train": cfg.data.train, "valid": cfg.data.valid}, cfg.run.seed)
    watchdog.stage("fitting the feature pipeline (Ray Data)")
    pipeline, pipeline_dir = fit_pipeline(cfg, run_dir)
    train_rows = lineage["data"]["train"]["rows"]
    workers = cfg.scaling.num_workers
    from framework.train.history import EpochHistory

    rows = train_rows + lineage["data"]["valid"]["rows"]
    watchdog.stage("reading the training data (Ray Data)")
    datasets = run_datasets(cfg, pipeline, pipeline_dir, rows)
    beacon_name, beacon = start_beacon()
    trainer = build_trainer(cfg, pipeline, pipeline_dir, train_rows, fault_injection=fault_injection,
                            callbacks=(EpochHistory(run_dir),), datasets=datasets, progress_beacon=beacon_name)
    _log(f"run {cfg.run.name}: {train_rows:,} training rows, {workers} worker(s), storage {run_dir}")
    watchdog.stage("training (Ray Train workers)", beacon=beacon)
    try:
        result = trainer.fit()
        watchdog.raise_if_stalled()
    except ray.train.TrainingFailedError as error:
        watchdog.raise_if_stalled()
        summary = str(error).strip().splitlines()[-1][:500]
        raise TrainingFailed(
            f"run {cfg.run.name}: training failed after {cfg.run.max_failures} allowed failure(s): {summary}. "
            f"Worker logs are above; rerun the same command to resume from the last checkpoint in {run_dir}"
        ) from None
    finally:
        ray.kill(beacon)
    watchdog.stage("writing the bundle")
    checkpoint = result.get_best_checkpoint(cfg.run.checkpoint.metric, cfg.run.checkpoint.mode) or result.checkpoint
    metrics = {**result.metrics, "best": checkpoint_metrics(checkpoint)}
    with checkpoint.as_directory() as directory:
        bundle = _write_bundle(cfg, run_dir, pipeline, directory, metrics, lineage)
    return TrainResult(Path(bundle), metrics, run_dir)


def checkpoint_metrics(checkpoint) -> dict:
    from framework.train.checkpoint import read_state

    with checkpoint.as_directory() as directory:
        return read_state(directory).metrics
