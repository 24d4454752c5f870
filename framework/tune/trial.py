"""One sweep trial = one training run of framework.train, driven from a Ray Tune function.

The trial turns its sampled values into a TrainConfig (the base, the values, the tied keys), names
the run `train-<Tune trial id>` under `<sweep dir>/trials/`, and runs the TorchTrainer that
`framework.train` builds for it:

- `resources.workers_per_trial >= 1`: Ray Train workers (DDP, GPUs), metrics forwarded to Tune each
  epoch by `TuneReportCallback`;
- `resources.workers_per_trial: 0`: Ray Train's in-process mode. Inside a Tune trial `ray.train.report`
  raises, so the loop reports through `TuneTrialSession` (`ray.tune.report`) instead. No worker
  actors and no placement group per trial: the cheap choice for small models, and the one pbt needs,
  because its checkpoints travel through Tune.

Either way one result per epoch reaches Tune, so ASHA can stop a trial between epochs.

Example:
    >>> plan = TrialPlan.from_sweep(cfg, trials_dir, pipeline_dir, train_rows=200_000)
    >>> trainable = tune.with_parameters(run_trial, plan=plan)
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from framework.config import apply_overrides, validate_mapping
from framework.tune.space import trial_train_dict

__all__ = ["TRIAL_NUMBER_KEY", "TrialPlan", "TuneTrialSession", "absolute_data_paths", "run_trial", "trial_worker_loop",
           "tune_trial_loop", "trial_train_config"]

TRIAL_NUMBER_KEY = "raylane.study_trial"  # the Optuna trial number, added to every Tune config


@dataclass(frozen=True)
class TrialPlan:
    """Everything a trial needs besides its sampled values, as plain data."""

    base_train: dict  # base + overrides + trial_overrides
    tied: dict
    space_keys: tuple
    trials_dir: str
    pipeline_dir: str | None  # fitted once by the driver; None when the space searches features.*
    train_rows: int
    workers_per_trial: int
    cpus_per_worker: float
    gpus_per_worker: float
    checkpoint_every_epoch: bool  # pbt exploits checkpoints; asha and none never resume a trial
    progress_beacon: str | None = None  # the driver's stall watchdog: trials' training steps beat it

    @staticmethod
    def base_for(cfg) -> dict:
        """The trials' base training config, data paths made absolute (Tune runs trials in their own directory),
        of the sweep's workload class."""
        base = absolute_data_paths(apply_overrides(cfg.base_train_dict(), cfg.trial_overrides))
        return {**base, "workload": cfg.workload}

    @classmethod
    def from_sweep(cls, cfg, trials_dir: Path, pipeline_dir: Path | None, train_rows: int,
                   progress_beacon: str | None = None, features: dict | None = None) -> "TrialPlan":
        """`features`: the pipeline the driver resolved (a suggested one), in place of the base config's."""
        resources = cfg.resources
        base = cls.base_for(cfg)
        return cls(
            base_train={**base, "features": features} if features is not None else base,
            tied=dict(cfg.tied),
            space_keys=tuple(cfg.space),
            trials_dir=str(trials_dir),
            pipeline_dir=str(pipeline_dir) if pipeline_dir else None,
            train_rows=train_rows,
            workers_per_trial=resources.workers_per_trial,
            cpus_per_worker=resources.cpus_per_worker,
            gpus_per_worker=resources.gpus_per_worker,
            checkpoint_every_epoch=cfg.scheduler.name == "pbt",
            progress_beacon=progress_beacon,
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _absolute(path):
    if isinstance(path, list):
        return [_absolute(p) for p in path]
    if not isinstance(path, str) or "://" in path:
        return path  # object storage URLs are absolute already
    return str(Path(path).expanduser().absolute())


def absolute_data_paths(mapping: dict) -> dict:
    mapping = copy.deepcopy(mapping)
    data = mapping.get("data")
    if isinstance(data, dict):
        for key in ("train", "valid", "contract"):
            if key in data:
                data[key] = _absolute(data[key])
    return mapping


def trial_train_config(plan: TrialPlan, params: dict, run_name: str):
    """The TrainConfig of one trial: sampled values applied, run placed under the sweep."""
    mapping = copy.deepcopy(trial_train_dict(plan.base_train, params, plan.tied))
    resources = {"CPU": plan.cpus_per_worker, **({"GPU": plan.gpus_per_worker} if plan.gpus_per_worker else {})}
    mapping["scaling"] = {
        **mapping.get("scaling", {}),
        "num_workers": plan.workers_per_trial,
        "use_gpu": plan.gpus_per_worker > 0,
        "resources_per_worker": resources if plan.workers_per_trial else None,
        "accelerator": "gpu" if plan.gpus_per_worker > 0 else "cpu",
    }
    run = mapping.setdefault("run", {})
    run.update(name=run_name, storage_path=plan.trials_dir, max_failures=0 if not plan.workers_per_trial else run.get("max_failures", 1))
    run.setdefault("checkpoint", {})["every_n_steps"] = None  # one report per epoch: ASHA's unit of time
    run["checkpoint"]["keep"] = 1
    return validate_mapping(mapping, "train", f"trial {run_name}")[1]


class TuneTrialSession:
    """framework.train's loop session for training inside the Tune trial process (rank 0 of 1)."""

    def rank(self) -> int:
        return 0

    def prepare(self, model: torch.nn.Module) -> tuple[torch.nn.Module, torch.device]:
        device = self.device()
        return model.to(device), device

    def device(self) -> torch.device:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def shard(self, name: str):
        import ray.train

        return ray.train.get_dataset_shard(name)  # in-process mode: the whole dataset

    def latest_checkpoint(self):
        import ray.tune

        return ray.tune.get_checkpoint()

    def report(self, metrics: dict, checkpoint_dir: str | None) -> None:
        import ray.tune

        checkpoint = ray.tune.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        ray.tune.report(metrics, checkpoint=checkpoint)


def _trial_settings(config: dict):
    """A trial's loop settings: its story is the driver's `[sweep] trial N epoch E` lines, so the loop's
    own step and epoch lines (once per trial, interleaved) stay off the terminal."""
    from framework.train.loop import LoopSettings

    return LoopSettings(**{**config, "print_lines": False})


def tune_trial_loop(config: dict) -> None:
    """The TorchTrainer loop of an in-process trial: framework.train's loop, reporting to Tune."""
    from framework.train.loop import run_loop

    run_loop(_trial_settings(config), TuneTrialSession())


def trial_worker_loop(config: dict) -> None:
    """The Ray Train workers' loop of a trial with `workers_per_trial >= 1` (metrics reach Tune through
    `TuneReportCallback`)."""
    from framework.train.loop import RayTrainSession, run_loop

    run_loop(_trial_settings(config), RayTrainSession())


def _pipeline(plan: TrialPlan, cfg):
    from framework.features import FeaturePipeline
    from framework.train._driver import fit_pipeline
    from framework.train.result import run_directory

    if plan.pipeline_dir:
        return FeaturePipeline.load(plan.pipeline_dir), Path(plan.pipeline_dir)
    return fit_pipeline(cfg, run_directory(cfg))  # the space searches features.*: fit per trial


def quiet_data_context() -> None:
    """The driver's Ray Data settings, in a trial process: no progress bars, batches in order."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True  # same config and seed -> same batches


def run_trial(config: dict, plan: TrialPlan, datasets: dict | None = None) -> None:
    """The Tune function: build this trial's training run and run it to the end or until stopped.

    `datasets` are the driver's materialized train/valid datasets (per the base `data.cache`), shared by trials.
    """
    import ray.tune

    from framework.train._driver import build_trainer

    quiet_data_context()
    params = {key: config[key] for key in plan.space_keys}
    trial_id = ray.tune.get_context().get_trial_id()
    cfg = trial_train_config(plan, params, f"train-{trial_id}")
    with _setup_lines_to_log(trial_id):
        pipeline, pipeline_dir = _pipeline(plan, cfg)
        common = {"datasets": datasets, "progress_beacon": plan.progress_beacon}
        if plan.workers_per_trial == 0:
            trainer = build_trainer(
                cfg, pipeline, pipeline_dir, plan.train_rows, loop=tune_trial_loop,
                checkpoint_every_epoch=plan.checkpoint_every_epoch, **common,
            )
        else:
            from ray.tune.integration.ray_train import TuneReportCallback

            trainer = build_trainer(cfg, pipeline, pipeline_dir, plan.train_rows, loop=trial_worker_loop,
                                    callbacks=(TuneReportCallback(),), **common)
    trainer.fit()


@contextlib.contextmanager
def _setup_lines_to_log(trial_id: str):
    """The [train] lines of a trial's setup (its embedding plan, a per-trial feature fit) are the same
    story for every trial: each is printed marked `(trial <id>)`, which makes it Ray output to the
    driver's console, so it lands in the log file rather than on the terminal (framework.console)."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            yield
    finally:
        for line in captured.getvalue().splitlines():
            print(f"(trial {trial_id}) {line}", flush=True)
