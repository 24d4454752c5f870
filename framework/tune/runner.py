"""Running a sweep: lock, reopen the study, recover, run the remaining trials on Ray Tune, report.

Layout of a sweep directory `<run.storage_path>/<run.name>/`:

    study.db        the Optuna study (unless run.storage names another database)
    sweep.json      raylane's ledger: config fingerprint, study location, one entry per launch
    pipeline/       the feature pipeline, fitted once for every trial
    tune/launch-N/  Ray Tune's experiment of the N-th launch (never read back by raylane)
    trials/train-<Tune trial id>/   each trial's Ray Train run
    best.json, plots/*.png, best/ (the --retrain-best run and its bundle)

A rerun (after a crash or a SIGKILL) starts a new launch for the rest of the budget; the searcher
is rebuilt from the study, not restored from Tune's pickled state.

Example:
    >>> _, cfg = load_config("jobs/configs/sweep_small.yaml", kind="sweep")
    >>> result = run_sweep(cfg)
    >>> result.best_path
    PosixPath('/.../runs/sweep-small/best.json')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from framework.errors import ConfigError
from framework.tune.ledger import SweepLedger
from framework.tune.study import Recovery, SweepLock, finished_count, open_study, recover_interrupted

__all__ = ["SweepResult", "run_sweep", "run_trials", "trial_concurrency"]


@dataclass(frozen=True)
class SweepResult:
    sweep_dir: Path
    best_path: Path
    summary: dict
    table: str
    plots: dict
    recovery: Recovery = Recovery()
    launched: int = 0  # trials this run started
    retrained: dict | None = field(default=None)


def trial_concurrency(cfg, cluster: dict) -> int:
    """Trials that can run at once without starving their data tasks: at most max_concurrent_trials."""
    from framework.train.data import DATA_TASK_CPUS

    resources = cfg.resources
    need, cpus = resources.total_cpus(), float(cluster.get("CPU", 0))
    fit = int((cpus - DATA_TASK_CPUS) / need + 1e-9)
    if fit < 1:
        raise ConfigError(
            f"resources: a trial needs {need:g} CPU (cpus_per_trial {resources.trial_cpus():g} + "
            f"{resources.workers_per_trial} worker(s) x cpus_per_worker {resources.cpus_per_worker:g}) plus "
            f"{DATA_TASK_CPUS:g} for its data tasks, and the cluster has {cpus:g}; lower them"
        )
    if resources.total_gpus() > 0:
        gpus = float(cluster.get("GPU", 0))
        fit = min(fit, int(gpus / resources.total_gpus() + 1e-9))
        if fit < 1:
            raise ConfigError(f"resources: a trial needs {resources.total_gpus():g} GPU and the cluster has {gpus:g}")
    return min(cfg.max_concurrent_trials, fit)


def _searcher(cfg, study, trials):
    from ray.tune.search.optuna import OptunaSearch

    from framework.tune.study import build_sampler, rdb_storage, storage_url

    metrics, modes = [o.metric for o in cfg.objective], [o.mode for o in cfg.objective]
    single = len(metrics) == 1
    return OptunaSearch(
        space=trials.define,
        metric=metrics[0] if single else metrics,
        mode=modes[0] if single else modes,
        sampler=build_sampler(cfg, len(study.trials)),
        study_name=study.study_name,
        storage=rdb_storage(storage_url(cfg)),
    )


def _finished_histories(study, metric: str) -> list[list[float]]:
    from optuna.trial import TrialState

    from framework.tune.study import INTERRUPTED_KEY

    interrupted = set(study.user_attrs.get(INTERRUPTED_KEY, []))
    histories = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if trial.number not in interrupted:
            histories.append([h[metric] for h in trial.user_attrs.get("history", []) if h.get(metric) is not None])
    return histories


def _pbt_population(cfg, study, trials, count: int):
    """pbt allows no search algorithm in Tune: ask the study for the initial population up front.

    Returns the variant generator of those points and the param space they fill in."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from framework.tune.space import suggest_params
    from framework.tune.trial import TRIAL_NUMBER_KEY

    points = []
    for _ in range(count):
        trial = study.ask()
        trials.adopt(trial)
        points.append({**suggest_params(trial, cfg.space), TRIAL_NUMBER_KEY: trial.number})
    space = {key: distribution.tune_domain() for key, distribution in cfg.space.items()}
    space[TRIAL_NUMBER_KEY] = tune.randint(0, 2**31 - 1)
    return BasicVariantGenerator(points_to_evaluate=points, max_concurrent=0), space


def _progress_callback(progress: Callable[[], None]):
    """A Tune callback telling the stall watchdog about every trial start, result and end."""
    from ray.tune import Callback

    class TrialProgress(Callback):
        def __init__(self, tell: Callable[[], None]):
            self.tell = tell  # an attribute, not a closure: Tune pickles this class with its experiment state

        def __getstate__(self) -> dict:
            return {"tell": None}  # the watchdog stays in this process; raylane never restores Tune's state

        def _tell(self) -> None:
            if self.tell is not None:
                self.tell()

        def on_trial_start(self, iteration, trials, trial, **info):
            self._tell()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self._tell()

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._tell()

        def on_trial_error(self, iteration, trials, trial, **info):
            self._tell()

    return TrialProgress(progress)


def run_trials(cfg, study, trainable: Callable, count: int, experiment_dir: Path, max_epochs: int, log=print,
               tracker=None, progress: Callable[[], None] | None = None) -> None:
    """Run `count` more trials of `trainable` on Ray Tune, recording each into the study (and, with a
    `tracker`, into MLflow); `progress` is called on every trial event (the stall watchdog)."""
    from ray import tune

    from framework.tune.recorder import StudyRecorder, StudyTrials, as_tune_callback
    from framework.tune.schedulers import build_scheduler, warm_start

    from framework.capacity import Cluster
    from framework.workload import resolve_placement

    _check_stopped_runs_can_be_freed(cfg)
    placement = resolve_placement(cfg.workload, log=log)
    if placement.constrained:
        log(f"[sweep] workload {cfg.workload}: trials run only on the nodes that accept it")
    concurrency = trial_concurrency(cfg, Cluster.from_ray(placement).total)
    if concurrency < cfg.max_concurrent_trials:
        log(f"[sweep] running {concurrency} trial(s) at a time, not {cfg.max_concurrent_trials}: that is what the cluster's CPUs fit")
    trials = StudyTrials(cfg.space)
    scheduler = build_scheduler(cfg, max_epochs)
    replayed = warm_start(scheduler, _finished_histories(study, cfg.objective[0].metric), cfg.objective[0].metric)
    if replayed:
        log(f"[sweep] ASHA rungs rebuilt from {replayed} finished trial(s)")
    pbt = cfg.scheduler.name == "pbt"
    searcher, param_space = _pbt_population(cfg, study, trials, count) if pbt else (_searcher(cfg, study, trials), None)
    recorder = StudyRecorder(trials, cfg.objective, list(cfg.space), max_epochs, study=study if pbt else None, log=log,
                             tracker=tracker)
    tuner = tune.Tuner(
        tune.with_resources(trainable, _trial_resources(cfg, placement)),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=count,
            max_concurrent_trials=concurrency,
            reuse_actors=True,  # a new trial reuses a finished trial's process (seconds per trial on small clusters)
        ),
        run_config=tune.RunConfig(
            name=experiment_dir.name,
            storage_path=str(experiment_dir.parent),
            callbacks=[as_tune_callback(recorder), *([_progress_callback(progress)] if progress else [])],
            failure_config=tune.FailureConfig(max_failures=0),
            # pbt restores trials from each other's checkpoints: deleting old ones races with that
            checkpoint_config=tune.CheckpointConfig(num_to_keep=None if pbt else 1),
            verbose=0,
        ),
    )
    grid = tuner.fit()
    if grid.num_errors:
        log(f"[sweep] {grid.num_errors} trial(s) failed this launch; their errors are in {experiment_dir}")


def _trial_resources(cfg, placement) -> dict:
    """What Tune reserves for a trial's own process; its Ray Train workers reserve theirs themselves (and
    take the workload's label selector). Tune's placement groups take no label selector in Ray 2.60, so a
    trial asks for a unit of its workload class's custom resource instead."""
    resources = {"CPU": cfg.resources.trial_cpus(), **placement.tune_resources()}
    if cfg.resources.workers_per_trial == 0 and cfg.resources.gpus_per_worker:
        resources["GPU"] = cfg.resources.gpus_per_worker  # in-process: the trial trains on it
    return resources


def _check_stopped_runs_can_be_freed(cfg) -> None:
    """A trial that ASHA stops is killed mid-`fit()`; Ray Train then frees its workers' placement group
    through Ray's state API. Without it (no dashboard) every stopped trial would keep its CPUs and the
    sweep would stall, so refuse that combination up front."""
    if cfg.resources.workers_per_trial == 0 or cfg.scheduler.name == "none":
        return
    from ray.util.state import list_actors
    from ray.util.state.exception import RayStateApiException

    try:
        list_actors(limit=1, timeout=10, raise_on_missing_output=False)
    except RayStateApiException:
        raise ConfigError(
            f"resources.workers_per_trial: {cfg.resources.workers_per_trial} with scheduler {cfg.scheduler.name}: Ray Train "
            "frees an early-stopped trial's workers through Ray's state API, which this cluster does not serve (it runs "
            "without the dashboard, as raylane's local cluster does). Use workers_per_trial: 0, scheduler: none, or a "
            "cluster with the dashboard (`raylane cluster up`, then RAY_ADDRESS=...)"
        ) from None


def _training_trainable(cfg, sweep_dir: Path, log, progress_beacon: str | None = None):
    """Check the data once, fit the features once, and wrap `run_trial` for Tune (its training steps
    beat `progress_beacon`)."""
    from ray import tune

    from framework.config import validate_mapping
    from framework.lineage import data_snapshot
    from framework.ray_session import ensure_ray
    from framework.train._driver import fit_pipeline
    from framework.train.suggested import resolve_features
    from framework.train.trainer import check_inputs
    from framework.tune.trial import TrialPlan, run_trial

    ensure_ray()
    base = TrialPlan.base_for(cfg)
    train_cfg = resolve_features(validate_mapping(base, "train", "base training config")[1], sweep_dir, log)
    check_inputs(train_cfg)
    searches_features = any(key.startswith("features.") for key in cfg.space)
    pipeline_dir = None
    if not searches_features:
        _, pipeline_dir = fit_pipeline(train_cfg, sweep_dir)
    rows = data_snapshot(train_cfg.data.train)["rows"]
    plan = TrialPlan.from_sweep(cfg, sweep_dir / "trials", pipeline_dir, rows, progress_beacon,
                                features=train_cfg.features.model_dump(mode="json"))
    log(f"[sweep] {rows:,} training rows; features {'fitted per trial' if searches_features else f'fitted once in {pipeline_dir}'}")
    datasets = None
    if pipeline_dir is not None:
        datasets = _shared_datasets(train_cfg, pipeline_dir, rows + data_snapshot(train_cfg.data.valid)["rows"], log)
    return tune.with_parameters(run_trial, plan=plan, datasets=datasets), _max_epochs(cfg, train_cfg.optim.epochs)


def _shared_datasets(train_cfg, pipeline_dir: Path, rows: int, log) -> dict | None:
    """Train and valid transformed once and shared by every trial from the object store, when the base
    config's `data.cache` says so; None lets each trial stream its own."""
    from framework.features import FeaturePipeline
    from framework.train._driver import cached_datasets

    announce = lambda line: log(f"[sweep] {line}, shared by every trial; data.cache=false turns this off")  # noqa: E731
    return cached_datasets(train_cfg, FeaturePipeline.load(pipeline_dir), pipeline_dir, rows, announce)


def _max_epochs(cfg, base_epochs: int) -> int:
    epochs = cfg.space.get("optim.epochs")
    return int(max(epochs.boundary_values())) if epochs is not None else int(base_epochs)


def run_sweep(cfg, *, log=print, trainable: Callable | None = None, max_epochs: int | None = None) -> SweepResult:
    """Run (or resume) the sweep to its budget of trials, then write best.json, the table and plots.

    `trainable` replaces the training trial (benchmarks time the sweep machinery with a trivial one).
    """
    from framework.ray_session import ensure_ray
    from framework.tune.results import report_results
    from framework.tune.tracking import SweepTracker, audit_sweep
    from framework.tune.trial import TrialPlan
    from framework.watchdog import StallWatchdog, start_beacon

    from framework.console import LOG_FILE, log_to

    sweep_dir = cfg.sweep_directory()
    log_to(sweep_dir / LOG_FILE)
    with SweepLock(sweep_dir):
        ledger = SweepLedger.open(sweep_dir, cfg)
        study = open_study(cfg)
        recovery = recover_interrupted(study)
        if recovery.interrupted:
            log(f"[sweep] {recovery.describe()}")
        remaining = cfg.num_samples - finished_count(study)
        log(f"[sweep] {cfg.run.name}: {cfg.num_samples - remaining} of {cfg.num_samples} trial(s) finished; study {study.study_name} in {ledger.storage}")
        tracker = None
        if remaining > 0:
            with StallWatchdog("sweep", cfg.run.stall_timeout_s, log=log) as watchdog:
                ray = ensure_ray()
                beacon_name, beacon = start_beacon()
                try:
                    if trainable is None:
                        watchdog.stage("checking the data and fitting the feature pipeline (Ray Data)")
                        trainable, max_epochs = _training_trainable(cfg, sweep_dir, log, beacon_name)  # checks the data first
                        tracker = SweepTracker.for_sweep(cfg, TrialPlan.base_for(cfg), log)
                    launch = ledger.start_launch(remaining, recovery)
                    watchdog.stage("running trials (Ray Tune)", beacon=beacon)
                    run_trials(cfg, study, trainable, remaining, sweep_dir / "tune" / launch, max_epochs or 1, log, tracker,
                               progress=watchdog.progress)
                    watchdog.raise_if_stalled()  # Tune stops gracefully on the watchdog's interrupt
                except (Exception, KeyboardInterrupt):
                    if tracker is not None:
                        audit_sweep(cfg, {}, tracker.lineage, outcome="failed")
                    raise
                finally:
                    ray.kill(beacon)
        summary, table, plots = report_results(cfg, study, sweep_dir, log)
        if tracker is not None:  # a launch of training trials (a benchmark's stand-in trials are not tracked)
            audit_sweep(cfg, summary, tracker.lineage)
    return SweepResult(sweep_dir, sweep_dir / "best.json", summary, table, plots, recovery, max(remaining, 0))
