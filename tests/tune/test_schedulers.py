"""ASHA after a resume: rungs rebuilt from the study give the decisions an uninterrupted run gives."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from framework.tune.schedulers import TIME_ATTR, build_scheduler, warm_start

pytest.importorskip("ray.tune")

FINISHED = {"a": [0.70, 0.72, 0.73], "b": [0.60], "c": [0.68, 0.69], "d": [0.55], "e": [0.71, 0.74, 0.75]}
NEWCOMER = [0.66, 0.67, 0.68]


@dataclass(frozen=True)
class _Trial:
    trial_id: str


def _feed(scheduler, trial_id, values, complete=True):
    trial = _Trial(trial_id)
    scheduler.on_trial_add(None, trial)
    decisions = []
    for epoch, value in enumerate(values, start=1):
        decision = scheduler.on_trial_result(None, trial, {TIME_ATTR: epoch, "auc": value})
        decisions.append(decision)
        if decision == "STOP":
            break
    if complete:
        scheduler.on_trial_complete(None, trial, {TIME_ATTR: len(decisions), "auc": values[len(decisions) - 1]})
    return decisions


def _scheduler(make_sweep):
    cfg = make_sweep("asha", "scheduler={name: asha, grace_period: 1, reduction_factor: 2}")
    return build_scheduler(cfg, max_epochs=3)


def test_warm_started_asha_decides_like_an_uninterrupted_one(make_sweep):
    uninterrupted = _scheduler(make_sweep)
    for trial_id, values in FINISHED.items():
        _feed(uninterrupted, trial_id, values)
    expected = _feed(uninterrupted, "newcomer", NEWCOMER)

    resumed = _scheduler(make_sweep)
    assert warm_start(resumed, list(FINISHED.values()), "auc") == len(FINISHED)
    assert _feed(resumed, "newcomer", NEWCOMER) == expected

    cold = _scheduler(make_sweep)
    assert _feed(cold, "newcomer", NEWCOMER) != expected, "without the replay the newcomer would be judged alone"
    assert expected[-1] == "STOP" and len(expected) < len(NEWCOMER), "the reference stops the newcomer early"


def test_other_schedulers_are_left_alone(make_sweep):
    assert build_scheduler(make_sweep("none", "scheduler=none"), max_epochs=3) is None
    assert warm_start(None, list(FINISHED.values()), "auc") == 0
