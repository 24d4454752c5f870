"""The sweep's Optuna study: the one durable record of every trial, and how a rerun picks it up.

The study lives in an Optuna RDB storage (SQLite at `<sweep dir>/study.db` unless `run.storage`
names another database URL), so optuna-dashboard can watch it during and after the sweep. A rerun
of the same sweep never unpickles anything: it reopens the study, marks the trials a killed driver
left RUNNING as FAIL, enqueues their parameters again, and asks the sampler for the rest of the
budget (see `recover_interrupted`).

Example:
    >>> study = open_study(cfg)                       # a SweepConfig
    >>> recovery = recover_interrupted(study)
    >>> remaining = cfg.num_samples - finished_count(study)
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from framework.errors import ArtifactError, ConfigError
from framework.lineage import config_hash
from framework.tune.kept import KeptEpochRule

__all__ = [
    "FINGERPRINT_KEY",
    "INTERRUPTED_KEY",
    "Recovery",
    "SweepLock",
    "build_sampler",
    "finished_count",
    "fingerprint",
    "open_study",
    "rdb_storage",
    "recover_interrupted",
    "storage_url",
]

FINGERPRINT_KEY = "raylane.fingerprint"
INTERRUPTED_KEY = "raylane.interrupted"  # trial numbers a killed driver left RUNNING (retried since)
RETRY_OF_KEY = "raylane.retry_of"
DB_FILE = "study.db"
# How long opening waits out other processes that create the same new database or hold its lock.
_OPEN_PATIENCE_S = 30.0
_LOCKED = "database is locked"


def storage_url(cfg) -> str:
    return cfg.run.storage or f"sqlite:///{cfg.sweep_directory() / DB_FILE}"


def fingerprint(cfg) -> str:
    """What must not change between runs of one sweep (the budget, concurrency and resources may)."""
    return config_hash(
        {
            "train": cfg.base_train_dict(),
            "trial_overrides": cfg.trial_overrides,
            "space": {k: v.model_dump(exclude_defaults=True) for k, v in cfg.space.items()},
            "tied": cfg.tied,
            "objective": [o.model_dump() for o in cfg.objective],
            "sampler": cfg.sampler.model_dump(),
            "scheduler": cfg.scheduler.model_dump(),
        }
    )


def _sqlite_connection(path: str):
    """A SQLite connection in WAL mode: a commit costs about a millisecond instead of an fsync'ed
    journal (~10 ms here), readers such as optuna-dashboard never block the sweep, and a killed
    driver loses nothing it committed. WAL needs a local filesystem: on NFS give run.storage a URL."""
    import sqlite3

    connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def rdb_storage(url: str):
    """The Optuna RDB storage of a sweep; every part of raylane opens the study through this."""
    import functools

    import optuna

    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url, engine_kwargs={"creator": functools.partial(_sqlite_connection, path)})
    return optuna.storages.RDBStorage(url)


def _causes(error: BaseException):
    """The error and what it wraps: SQLAlchemy's `orig`, Optuna's StorageInternalError's `__cause__`."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = getattr(error, "orig", None) or error.__cause__


def _is_locked(error: BaseException) -> bool:
    return any(_LOCKED in str(cause) for cause in _causes(error))


def _is_transient(error: BaseException) -> bool:
    """Another process is creating the same new database ("table ... already exists", a duplicate
    schema version row) or holds its lock where SQLite answers at once instead of waiting out the
    busy timeout (a read snapshot that must become a write): opening again succeeds."""
    import sqlalchemy.exc

    return any(isinstance(cause, sqlalchemy.exc.IntegrityError) or "already exists" in str(cause)
               for cause in _causes(error)) or _is_locked(error)


def _database_error(url: str, error: BaseException) -> ArtifactError:
    where = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    innermost = list(_causes(error))[-1]
    reason = (str(innermost).splitlines() or [type(innermost).__name__])[0][:200]
    if _is_locked(error):
        return ArtifactError(f"{where}: the sweep's Optuna study stayed locked by another process for "
                             f"{_OPEN_PATIENCE_S:.0f} s ({reason}); stop the other sweep or reader of it and run again")
    return ArtifactError(
        f"{where}: the sweep's Optuna study cannot be read ({reason}); the file is truncated or corrupted. "
        "Move it away to start the sweep afresh, or restore it from a backup"
    )


def _open_once(cfg, url: str):
    import optuna

    directions = ["maximize" if o.mode == "max" else "minimize" for o in cfg.objective]
    try:
        study = optuna.create_study(storage=rdb_storage(url), study_name=cfg.run.study_name or cfg.run.name,
                                    directions=directions, load_if_exists=True)
    except ValueError as error:  # e.g. an existing study with other directions
        raise ConfigError(f"{url}: study {cfg.run.study_name or cfg.run.name!r}: {error}") from None
    study.get_trials(deepcopy=False)  # reads every page: a damaged file fails here, not mid-sweep
    _check_fingerprint(study, cfg, url)
    KeptEpochRule.of_sweep(cfg).record(study)  # the fingerprint pins it: the same for every trial
    return study


def open_study(cfg):
    """Create or reopen the study; a new study records the config fingerprint, an old one must match.

    The study also records the trials' checkpoint rule (`framework.tune.kept`): which epoch of each
    trial its values are. Processes that open the same new database at once (optuna-dashboard, a
    second driver) all succeed: a race on its creation or lock is retried for up to `_OPEN_PATIENCE_S`,
    with jittered backoff so that forked openers do not collide again in step."""
    import optuna
    import sqlalchemy.exc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url(cfg)
    deadline = time.monotonic() + _OPEN_PATIENCE_S
    attempt = 0
    while True:
        try:
            return _open_once(cfg, url)
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
            # Optuna wraps SQLAlchemy's errors in StorageInternalError where it commits.
            if not _is_transient(error) or time.monotonic() >= deadline:
                raise _database_error(url, error) from None
        attempt += 1
        time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.5))


def _check_fingerprint(study, cfg, url: str) -> None:
    expected = fingerprint(cfg)
    recorded = study.user_attrs.get(FINGERPRINT_KEY)
    if recorded is None and not study.trials:
        study.set_user_attr(FINGERPRINT_KEY, expected)
    elif recorded != expected:
        raise ConfigError(
            f"{url}: sweep {cfg.run.name!r} was started with a different base config, space, objective, sampler or "
            "scheduler; rerun it with its original config (num_samples, max_concurrent_trials and resources may change), "
            "or give a new run.name"
        )


@dataclass(frozen=True)
class Recovery:
    """What a rerun found: trials a killed driver left RUNNING, now failed. Those that had drawn their
    parameters are queued again with them; `undrawn` ones died between the study's ask and the
    sampler's draw, so they never had a config to retry and new draws take their place."""

    interrupted: tuple[int, ...] = ()
    undrawn: tuple[int, ...] = ()

    def describe(self) -> str:
        if not self.interrupted:
            return "no interrupted trials"
        text = f"trial(s) {list(self.interrupted)} were left RUNNING by a stopped driver: marked FAIL"
        requeued = [n for n in self.interrupted if n not in self.undrawn]
        if requeued:
            text += f"; {requeued} queued again with the same parameters"
        if self.undrawn:
            text += f"; {list(self.undrawn)} had drawn no parameters yet: new draws replace them"
        return text


def recover_interrupted(study) -> Recovery:
    """Fail the RUNNING trials of a dead driver and enqueue their parameters (the caller holds the lock)."""
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return Recovery()
    numbers = [t.number for t in running]
    study.set_user_attr(INTERRUPTED_KEY, sorted(set(study.user_attrs.get(INTERRUPTED_KEY, [])) | set(numbers)))
    undrawn = []
    for trial in running:
        study.tell(trial.number, state=TrialState.FAIL)
        if trial.params:
            study.enqueue_trial(dict(trial.params), user_attrs={RETRY_OF_KEY: trial.number})
        else:
            undrawn.append(trial.number)
    return Recovery(tuple(numbers), tuple(undrawn))


def finished_count(study) -> int:
    """Trials that count against num_samples: finished ones, failures included, interruptions not."""
    from optuna.trial import TrialState

    interrupted = set(study.user_attrs.get(INTERRUPTED_KEY, []))
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return sum(1 for t in study.get_trials(deepcopy=False, states=done) if t.number not in interrupted)


def build_sampler(cfg, trials_so_far: int):
    """The configured sampler. tpe and random draw from a seed advanced by the trials already in the
    study, so a rerun does not repeat the draws of the first run; qmc and cmaes keep their state in
    the study and reuse the seed."""
    import optuna

    section = cfg.sampler
    seed = cfg.run.seed if section.seed is None else section.seed
    startup = section.n_startup_trials
    if startup is None:
        startup = max(2, min(10, cfg.num_samples // 4))
    if section.name == "random":
        return optuna.samplers.RandomSampler(seed=seed + trials_so_far)
    if section.name == "qmc":
        return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed, warn_independent_sampling=False)
    if section.name == "cmaes":
        return _cmaes_sampler(seed, startup)
    return optuna.samplers.TPESampler(seed=seed + trials_so_far, n_startup_trials=startup)


def _cmaes_sampler(seed: int, startup: int):
    import optuna

    try:
        import cmaes  # noqa: F401
    except ImportError:
        raise ConfigError("sampler cmaes needs the `cmaes` package on the driver: pip install cmaes") from None
    logging.getLogger("raylane.tune").warning(
        "sampler cmaes: the study database will hold pickled optimizer state, unpickled when the sweep resumes; "
        "only resume from a database you trust"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the independent-sampling warning for categorical keys
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup, warn_independent_sampling=False)


class SweepLock:
    """One driver per sweep directory: a second `raylane sweep` on it fails instead of corrupting it.

    flock is released by the kernel when the holder dies, SIGKILL included, so a crash never leaves a
    stale lock behind.
    """

    def __init__(self, sweep_dir: Path):
        self.path = Path(sweep_dir) / ".lock"
        self._handle = None

    def __enter__(self) -> "SweepLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(f"{self.path.parent}: this sweep is already running (driver pid {holder}); wait for it or stop it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
