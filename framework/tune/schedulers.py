"""Tune's trial schedulers for a sweep: ASHA (early stopping), PBT, or none.

Time is counted in epochs (`epoch`, reported once per epoch by every trial). A resumed sweep's ASHA
starts with the rungs of the finished trials replayed from the study (`warm_start`), so the trials
after a crash face the same cut-offs they would have faced without it.

Example:
    >>> scheduler = build_scheduler(cfg, max_epochs=3)
    >>> warm_start(scheduler, [[0.71, 0.74], [0.69]], metric="auc")
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TIME_ATTR", "build_scheduler", "warm_start"]

TIME_ATTR = "epoch"


def build_scheduler(cfg, max_epochs: int):
    """The TrialScheduler of the config, or None for `scheduler: none`."""
    section = cfg.scheduler
    objective = cfg.objective[0]
    if section.name == "none":
        return None
    if section.name == "asha":
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(
            time_attr=TIME_ATTR,
            metric=objective.metric,
            mode=objective.mode,
            max_t=section.max_t or max_epochs,
            grace_period=min(section.grace_period, section.max_t or max_epochs),
            reduction_factor=section.reduction_factor,
        )
    from ray.tune.schedulers import PopulationBasedTraining

    return PopulationBasedTraining(
        time_attr=TIME_ATTR,
        metric=objective.metric,
        mode=objective.mode,
        perturbation_interval=section.perturbation_interval,
        hyperparam_mutations={key: cfg.space[key].tune_domain() for key in cfg.pbt_mutations()},
        quantile_fraction=section.quantile_fraction,
        resample_probability=section.resample_probability,
    )


@dataclass(frozen=True)
class _FinishedTrial:
    """What ASHA reads of a trial: its id (the scheduler's only use of the Trial object)."""

    trial_id: str


def warm_start(scheduler, histories: list[list[float]], metric: str) -> int:
    """Replay finished trials' per-epoch values into a fresh ASHA through its public hooks.

    Returns how many trials were replayed. Other schedulers are left as they are.
    """
    from ray.tune.schedulers import AsyncHyperBandScheduler

    if not isinstance(scheduler, AsyncHyperBandScheduler):
        return 0
    replayed = 0
    for index, values in enumerate(histories):
        if not values:
            continue
        trial = _FinishedTrial(f"replayed-{index}")
        scheduler.on_trial_add(None, trial)
        for epoch, value in enumerate(values[:-1], start=1):
            scheduler.on_trial_result(None, trial, {TIME_ATTR: epoch, metric: value})
        scheduler.on_trial_complete(None, trial, {TIME_ATTR: len(values), metric: values[-1]})
        replayed += 1
    return replayed
