"""The typed sweep config (`raylane sweep SWEEP.yaml`), section by section.

A sweep YAML is recognised by its top-level keys `space` and `objective`. The shape (see
jobs/configs/sweep_small.yaml for every knob):

    base: jobs/configs/train_small.yaml          # or an inline training config under `train:`
    space:
      optim.lr: {loguniform: [1.0e-4, 1.0e-2]}
      model.embedding_dim: {categorical: [8, 16, 32]}
    objective: [{metric: auc, mode: max}]        # two or more entries: multi-objective
    sampler: tpe
    scheduler: {name: asha, grace_period: 1}
    num_samples: 8
    max_concurrent_trials: 1
    run: {name: sweep-small, storage_path: runs}

Example:
    >>> from framework.config import load_config
    >>> kind, cfg = load_config("jobs/configs/sweep_small.yaml", ["num_samples=4"])
    >>> kind, cfg.objective[0].metric
    ('sweep', 'auc')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from framework.config import StrictModel
from framework.tune.space import Distribution, check_space, check_tied, train_config_dict
from framework.workload import Workload

__all__ = [
    "REPORTED_METRICS",
    "Objective",
    "ResourcesSection",
    "SamplerSection",
    "SchedulerSection",
    "SweepConfig",
    "SweepRunSection",
]

# Metrics every trial reports once per epoch (framework.train.loop), usable as objectives.
REPORTED_METRICS = ("auc", "logloss", "train_loss", "num_params", "samples_per_s")


class Objective(StrictModel):
    """One objective: a metric every trial reports, and whether to maximise or minimise it."""

    metric: str
    mode: Literal["max", "min"]

    @field_validator("metric")
    @classmethod
    def _reported(cls, value: str) -> str:
        if value not in REPORTED_METRICS:
            raise ValueError(f"unknown metric {value!r}; trials report {', '.join(REPORTED_METRICS)}")
        return value


def _named(value: Any) -> Any:
    """`sampler: tpe` is short for `sampler: {name: tpe}`."""
    return {"name": value} if isinstance(value, str) else value


class SamplerSection(StrictModel):
    """The Optuna sampler. cmaes pickles its state into the study database, so it is opt-in."""

    name: Literal["tpe", "random", "cmaes", "qmc"] = "tpe"
    seed: int | None = Field(None, description="default: run.seed")
    n_startup_trials: int | None = Field(None, ge=0, description="tpe and cmaes: random trials before modelling")
    allow_pickle: bool = Field(False, description="cmaes only: accept pickles in the study database")

    @model_validator(mode="after")
    def _cmaes_is_opt_in(self) -> "SamplerSection":
        if self.name == "cmaes" and not self.allow_pickle:
            raise ValueError(
                "cmaes stores its optimizer state as pickles in the study database and unpickles them on "
                "resume; set `sampler: {name: cmaes, allow_pickle: true}` only for a database you trust, "
                "or use tpe, random or qmc"
            )
        if self.name != "cmaes" and self.allow_pickle:
            raise ValueError("allow_pickle applies to cmaes only")
        if self.n_startup_trials is not None and self.name not in ("tpe", "cmaes"):
            raise ValueError(f"n_startup_trials applies to tpe and cmaes, not {self.name}")
        return self


_ASHA_KEYS = {"grace_period", "reduction_factor", "max_t"}
_PBT_KEYS = {"perturbation_interval", "quantile_fraction", "resample_probability", "mutate"}


class SchedulerSection(StrictModel):
    """Tune's trial scheduler: asha (early stopping), pbt (population based training) or none."""

    name: Literal["asha", "none", "pbt"] = "asha"
    grace_period: int = Field(1, ge=1, description="asha: epochs before a trial can be stopped")
    reduction_factor: float = Field(3.0, gt=1, description="asha: keep the top 1/reduction_factor at each rung")
    max_t: int | None = Field(None, ge=1, description="asha: default the trials' optim.epochs")
    perturbation_interval: int = Field(1, ge=1, description="pbt: epochs between exploit/explore steps")
    quantile_fraction: float = Field(0.25, gt=0, le=0.5)
    resample_probability: float = Field(0.25, ge=0, le=1)
    mutate: list[str] | None = Field(None, description="pbt: space keys to mutate; default the optim.* keys")

    @model_validator(mode="after")
    def _keys_of_this_scheduler(self) -> "SchedulerSection":
        foreign = {"asha": _PBT_KEYS, "pbt": _ASHA_KEYS, "none": _ASHA_KEYS | _PBT_KEYS}[self.name]
        misplaced = sorted(foreign & self.model_fields_set)
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} do not apply to scheduler {self.name}")
        return self


class ResourcesSection(StrictModel):
    """What one trial asks of the cluster.

    `workers_per_trial: 0` trains inside the trial's own process (Ray Train's in-process mode): the
    cheapest for small models, and what pbt needs. With 1 or more, every trial runs a TorchTrainer
    with that many Ray Train workers (DDP), each with `cpus_per_worker` and `gpus_per_worker`.
    """

    workers_per_trial: int = Field(0, ge=0)
    cpus_per_worker: float = Field(0.5, gt=0)
    gpus_per_worker: float = Field(0.0, ge=0)
    cpus_per_trial: float | None = Field(
        None, gt=0, description="the Tune trial itself; default cpus_per_worker in-process, else 0.1"
    )

    def trial_cpus(self) -> float:
        if self.cpus_per_trial is not None:
            return self.cpus_per_trial
        return self.cpus_per_worker if self.workers_per_trial == 0 else 0.1

    def total_cpus(self) -> float:
        """CPUs a running trial holds: its own plus its Ray Train workers'."""
        return self.trial_cpus() + self.workers_per_trial * self.cpus_per_worker

    def total_gpus(self) -> float:
        return max(self.workers_per_trial, 1) * self.gpus_per_worker


class SweepRunSection(StrictModel):
    """Where the sweep lives: `<storage_path>/<name>/`. The same name resumes; a new one starts fresh."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    storage_path: str = "runs"
    storage: str | None = Field(None, description="Optuna storage URL; default sqlite:///<sweep dir>/study.db")
    study_name: str | None = Field(None, description="default: run.name")
    seed: int = 0
    stall_timeout_s: float | None = Field(
        600.0, gt=0, description="end the job with an error when no step, row or trial progresses this long; null: never"
    )


class SweepConfig(StrictModel):
    """A hyperparameter sweep: a base training config, a search space, objectives and how to search."""

    base: str | None = Field(None, description="path to a training config (relative to the working directory or the project)")
    train: dict[str, Any] | None = Field(None, description="an inline training config instead of `base`")
    overrides: list[str] = Field(default_factory=list, description="key=value applied to the base, for trials and --retrain-best")
    trial_overrides: list[str] = Field(default_factory=list, description="key=value for trials only, e.g. a data sample")
    space: dict[str, Distribution] = Field(min_length=1)
    tied: dict[str, str] = Field(default_factory=dict, description="key: searched key whose value it copies")
    objective: list[Objective] = Field(min_length=1)
    sampler: SamplerSection = SamplerSection()
    scheduler: SchedulerSection | None = Field(None, description="default: asha with one objective, none with several")
    num_samples: int = Field(8, ge=1)
    max_concurrent_trials: int = Field(1, ge=1)
    resources: ResourcesSection = ResourcesSection()
    run: SweepRunSection
    retrain_best: bool = Field(False, description="after the sweep, train the best config on the full data")
    workload: Workload = Field(
        "sweep", description="workload class of the trials (and --retrain-best): only nodes that accept it run them"
    )
    retrain_epochs: int | None = Field(
        None, ge=1, description="epochs of the --retrain-best run; null: as many as the best trial kept (its best epoch)"
    )

    @field_validator("sampler", "scheduler", mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        return _named(value)

    @field_validator("objective", mode="before")
    @classmethod
    def _one_objective_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _consistent(self) -> "SweepConfig":
        if (self.base is None) == (self.train is None):
            raise ValueError("give exactly one of `base` (a training config path) or `train` (an inline training config)")
        metrics = [o.metric for o in self.objective]
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"objective: each metric may appear once, got {metrics}")
        if self.scheduler is None:
            self.scheduler = SchedulerSection(name="asha" if len(metrics) == 1 else "none")
        self._check_scheduler()
        if self.sampler.name == "cmaes" and self.is_multi_objective:
            raise ValueError("sampler cmaes optimises one objective; use tpe, random or qmc for several")
        base = self.base_train_dict()
        check_tied(self.tied, self.space)
        check_space(base, self.space, self.tied, self.trial_overrides)
        return self

    def _check_scheduler(self) -> None:
        scheduler = self.scheduler
        if scheduler.name != "none" and self.is_multi_objective:
            raise ValueError(f"scheduler {scheduler.name} needs a single objective; use `scheduler: none` for several")
        if scheduler.name == "pbt":
            if self.resources.workers_per_trial != 0:
                raise ValueError(
                    "scheduler pbt needs resources.workers_per_trial: 0: pbt moves checkpoints between trials "
                    "through Ray Tune, and Ray Train workers report theirs to Ray Train only"
                )
            unknown = sorted(set(self.pbt_mutations()) - set(self.space))
            if unknown:
                raise ValueError(f"scheduler.mutate: {unknown} are not keys of the space")
            structural = sorted(k for k in self.pbt_mutations() if not k.startswith("optim."))
            if structural:
                raise ValueError(f"scheduler.mutate: pbt can only mutate optim.* keys (a checkpoint cannot load into a changed model), got {structural}")
            if not self.pbt_mutations():
                raise ValueError("scheduler pbt: the space has no optim.* key to mutate; list some under scheduler.mutate")

    @property
    def is_multi_objective(self) -> bool:
        return len(self.objective) > 1

    def pbt_mutations(self) -> list[str]:
        if self.scheduler.mutate is not None:
            return list(self.scheduler.mutate)
        return [key for key in self.space if key.startswith("optim.")]

    def base_train_dict(self) -> dict:
        """The training config the trials start from: `base` or `train`, plus `overrides` (not yet validated)."""
        return train_config_dict(self.base, self.train, self.overrides)

    def sweep_directory(self) -> Path:
        return Path(self.run.storage_path).expanduser().absolute() / self.run.name
