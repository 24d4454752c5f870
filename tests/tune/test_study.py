"""The study as the sweep's durable record: recovery, counting, fingerprints, corruption, the lock."""

from __future__ import annotations

import json
import sqlite3

import optuna
import pytest
from optuna.trial import TrialState

from framework.errors import ArtifactError, ConfigError
from framework.tune.ledger import LEDGER_FILE, SweepLedger
from framework.tune.study import (
    INTERRUPTED_KEY,
    Recovery,
    SweepLock,
    build_sampler,
    finished_count,
    open_study,
    recover_interrupted,
)


def _ask(study, cfg, n):
    from framework.tune.space import suggest_params

    return [(t, suggest_params(t, cfg.space)) for t in (study.ask() for _ in range(n))]


def test_a_new_study_lives_in_sqlite_under_the_sweep_and_is_reopened(make_sweep):
    cfg = make_sweep("fresh")
    study = open_study(cfg)
    assert (cfg.sweep_directory() / "study.db").exists()
    trial, _ = _ask(study, cfg, 1)[0]
    study.tell(trial, 0.7)
    again = optuna.load_study(study_name="fresh", storage=f"sqlite:///{cfg.sweep_directory() / 'study.db'}")
    assert [t.values for t in again.trials] == [[0.7]]
    assert open_study(cfg).trials[0].params == trial.params


def test_trials_left_running_are_failed_and_requeued_with_the_same_params(make_sweep):
    cfg = make_sweep("recover")
    study = open_study(cfg)
    asked = _ask(study, cfg, 4)
    study.tell(asked[0][0], 0.61)
    study.tell(asked[1][0], state=TrialState.FAIL)  # a trial that really failed: it counts
    # the driver dies: trials 2 and 3 stay RUNNING
    reopened = open_study(cfg)
    recovery = recover_interrupted(reopened)
    assert recovery == Recovery((2, 3))
    states = {t.number: t.state for t in reopened.trials}
    assert states[2] == states[3] == TrialState.FAIL
    waiting = reopened.get_trials(states=(TrialState.WAITING,))
    assert [t.user_attrs["raylane.retry_of"] for t in waiting] == [2, 3]
    assert finished_count(reopened) == 2, "interrupted trials do not count against num_samples"
    assert reopened.user_attrs[INTERRUPTED_KEY] == [2, 3]
    retried = [reopened.ask() for _ in range(2)]
    from framework.tune.space import suggest_params

    assert [suggest_params(t, cfg.space) for t in retried] == [asked[2][1], asked[3][1]]
    assert recover_interrupted(open_study(cfg)) == Recovery((4, 5)), "a second crash fails the retries, never loses them"


def test_a_trial_killed_before_its_draw_is_failed_and_not_retried_with_no_params(make_sweep):
    cfg = make_sweep("undrawn")
    study = open_study(cfg)
    ((drawn, _),) = _ask(study, cfg, 1)
    study.ask()  # the driver dies between the ask and the sampler's draw: a RUNNING trial without params
    reopened = open_study(cfg)
    recovery = recover_interrupted(reopened)
    assert recovery == Recovery((0, 1), undrawn=(1,))
    assert "[1] had drawn no parameters" in recovery.describe()
    assert [t.state for t in reopened.trials] == [TrialState.FAIL, TrialState.FAIL, TrialState.WAITING]
    (waiting,) = reopened.get_trials(states=(TrialState.WAITING,))
    assert waiting.user_attrs["raylane.retry_of"] == 0 and waiting.system_attrs["fixed_params"] == drawn.params
    assert finished_count(reopened) == 0


def test_a_rerun_does_not_repeat_the_first_runs_draws(make_sweep):
    cfg = make_sweep("seeds", "sampler=random")
    first = optuna.create_study(sampler=build_sampler(cfg, 0))
    rerun = optuna.create_study(sampler=build_sampler(cfg, 4))
    draws = lambda study: [study.ask().suggest_float("x", 0, 1) for _ in range(3)]  # noqa: E731
    assert draws(first) != draws(rerun)
    assert draws(optuna.create_study(sampler=build_sampler(cfg, 0))) == draws(optuna.create_study(sampler=build_sampler(cfg, 0)))


def test_a_changed_config_is_refused_but_the_budget_may_grow(make_sweep, tmp_path):
    cfg = make_sweep("fingerprint", storage=tmp_path)
    open_study(cfg)
    SweepLedger.open(cfg.sweep_directory(), cfg)
    bigger = make_sweep("fingerprint", "num_samples=20", "max_concurrent_trials=2", storage=tmp_path)
    open_study(bigger)
    SweepLedger.open(bigger.sweep_directory(), bigger)
    other = make_sweep("fingerprint", "sampler=random", storage=tmp_path)
    with pytest.raises(ConfigError, match="was started with a different base config, space"):
        SweepLedger.open(other.sweep_directory(), other)
    with pytest.raises(ConfigError, match="was started with a different base config, space"):
        open_study(other)


def test_a_truncated_study_database_is_an_error_naming_the_file(make_sweep):
    cfg = make_sweep("corrupt-db")
    study = open_study(cfg)
    for trial, _ in _ask(study, cfg, 3):
        study.tell(trial, 0.5)
    path = cfg.sweep_directory() / "study.db"
    with sqlite3.connect(path) as connection:  # move the WAL into the file, as a clean shutdown does
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ArtifactError) as error:
        open_study(cfg)
    assert str(path) in str(error.value) and "truncated or corrupted" in str(error.value)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ArtifactError, match="truncated or corrupted"):
        open_study(cfg)


@pytest.mark.parametrize("content", ['{"format": 1, "fingerprint": "ab', "[1, 2]", "\x00\x01"])
def test_a_corrupted_ledger_is_an_error_naming_the_file(make_sweep, content):
    cfg = make_sweep("corrupt-ledger")
    ledger = SweepLedger.open(cfg.sweep_directory(), cfg)
    assert ledger.start_launch(6, Recovery()) == "launch-0"
    assert json.loads((cfg.sweep_directory() / LEDGER_FILE).read_text())["launches"][0]["trials"] == 6
    (cfg.sweep_directory() / LEDGER_FILE).write_text(content)
    with pytest.raises(ArtifactError) as error:
        SweepLedger.open(cfg.sweep_directory(), cfg)
    assert str(cfg.sweep_directory() / LEDGER_FILE) in str(error.value)


def test_one_driver_per_sweep(tmp_path):
    with SweepLock(tmp_path / "sweep"):
        with pytest.raises(ConfigError, match="this sweep is already running"):
            with SweepLock(tmp_path / "sweep"):
                pass
    with SweepLock(tmp_path / "sweep"):  # released on exit (and by the kernel when a driver dies)
        pass


@pytest.mark.parametrize("sampler", ["tpe", "random", "qmc", "cmaes"])
def test_every_sampler_draws_inside_the_space(make_sweep, sampler):
    name = sampler
    if sampler == "cmaes":
        pytest.importorskip("cmaes")
        sampler = "{name: cmaes, allow_pickle: true}"
    cfg = make_sweep(f"sampler-{name}", f"sampler={sampler}")
    study = optuna.create_study(direction="maximize", sampler=build_sampler(cfg, 0))
    from framework.tune.space import suggest_params

    for index in range(6):
        trial = study.ask()
        params = suggest_params(trial, cfg.space)
        assert 1e-4 <= params["optim.lr"] <= 1e-2 and params["model.embedding_dim"] in (8, 16, 32)
        study.tell(trial, params["optim.lr"])
    assert len({t.params["optim.lr"] for t in study.trials}) == 6, "no repeated draws"


def test_processes_creating_the_same_new_study_at_once_all_open_it(make_sweep, tmp_path):
    """optuna-dashboard or a second driver opening a brand-new database while the sweep creates its
    schema: Optuna's table creation races ("table studies already exists"); every opener succeeds."""
    import multiprocessing

    fork = multiprocessing.get_context("fork")
    for round_ in range(4):
        cfg = make_sweep(f"race-{round_}", storage=tmp_path)
        start = fork.Barrier(4)

        def open_together(cfg=cfg, start=start):
            start.wait()
            open_study(cfg)

        openers = [fork.Process(target=open_together) for _ in range(4)]
        for process in openers:
            process.start()
        for process in openers:
            process.join(60)
        assert [p.exitcode for p in openers] == [0, 0, 0, 0], f"round {round_}"
        assert len(optuna.get_all_study_names(f"sqlite:///{cfg.sweep_directory() / 'study.db'}")) == 1


def _locked_commit():
    """What Optuna raises when SQLite answers "database is locked" at once (a read snapshot that must
    become a write does not wait out the busy timeout): StorageInternalError from OperationalError."""
    import sqlalchemy.exc

    cause = sqlalchemy.exc.OperationalError("INSERT INTO study_user_attributes", {}, sqlite3.OperationalError("database is locked"))
    try:
        raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from cause
    except optuna.exceptions.StorageInternalError as error:
        return error


def _lock_first_writes(monkeypatch, times: int) -> list:
    calls = []
    real = optuna.storages.RDBStorage.set_study_user_attr

    def set_study_user_attr(self, *args):
        calls.append(args[1])
        if len(calls) <= times:
            raise _locked_commit()
        return real(self, *args)

    monkeypatch.setattr(optuna.storages.RDBStorage, "set_study_user_attr", set_study_user_attr)
    return calls


def test_a_locked_write_while_opening_is_retried_not_reported_as_corruption(make_sweep, monkeypatch):
    cfg = make_sweep("locked-once")
    calls = _lock_first_writes(monkeypatch, times=2)
    study = open_study(cfg)
    assert len(calls) >= 3 and "raylane.fingerprint" in study.user_attrs


def test_a_lock_held_past_the_patience_says_locked_not_corrupted(make_sweep, monkeypatch):
    import framework.tune.study as study_module

    monkeypatch.setattr(study_module, "_OPEN_PATIENCE_S", 0.3)
    _lock_first_writes(monkeypatch, times=10**6)
    with pytest.raises(ArtifactError) as error:
        open_study(make_sweep("locked-forever"))
    assert "stayed locked by another process" in str(error.value) and "corrupted" not in str(error.value)
