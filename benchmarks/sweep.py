"""Sweeps: raylane's per-trial overhead against Optuna alone, and TPE + ASHA against random search.

(a) Per-trial overhead. K trials of a trivial objective (it reports one result and returns) through
    raylane's sweep machinery (`run_sweep`: lock, study in SQLite, OptunaSearch, Tune with reused
    actors, the study recorder, best.json, table and plots), against the same objective and TPE
    sampler with Optuna alone in one process. After a 2-trial warm-up, the overhead per trial is the
    K-trial sweep's wall time less its fixed cost (the same command rerun once the budget is spent:
    reopening the study, best.json, table and plots), over K, minus Optuna's own time per trial. Trials take 1 CPU as Tune's default does: with fractional CPUs
    (--trial-cpus 0.25) Tune's reuse of actors still happens but costs more per trial on 2 cores.
    With --tune-defaults the same K trials also run through a plain `Tuner` + `OptunaSearch` with
    Tune's defaults (a new actor per trial), the set-up the goal is measured against.
(b) Search efficiency on the synthetic CTR task (train_small's DLRM, in-process trials, one at a
    time so the order of trial-epochs is exact). TPE + ASHA against random search with no early
    stopping, with the same budget of trials and the same space: the trial-epochs each needed to
    first reach random search's best AUC (random: up to and including its best trial).

    python benchmarks/sweep.py                         # full: K=60; 100k rows, 20 trials x 4 epochs
    python benchmarks/sweep.py --trials 8 --rows 10000 --budget 4 --epochs 2    # reduced
Writes benchmarks/results/sweep.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._isolation import private_raylane_home  # noqa: E402
from benchmarks._machine import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OVERHEAD_GOAL_S = 0.5  # seconds of raylane overhead per trial
EFFICIENCY_GOAL = 0.5  # TPE + ASHA trial-epochs / random search trial-epochs, to reach random's best


def objective_value(lr: float, weight_decay: float) -> float:
    """A smooth stand-in for an AUC with its best at lr=3e-3, weight_decay=1e-5."""
    import math

    return 0.75 - 0.02 * (math.log10(lr) - math.log10(3e-3)) ** 2 - 0.01 * (math.log10(weight_decay) + 5) ** 2


def trivial_trial(config: dict) -> None:
    """The Tune function of (a): one result, no training."""
    from ray import tune

    tune.report({"epoch": 1, "auc": objective_value(config["optim.lr"], config["optim.weight_decay"])})


def _trivial_sweep(storage: Path, name: str, trials: int, trial_cpus: float):
    from framework.tune.config import SweepConfig

    return SweepConfig.model_validate(
        {
            "base": str(REPO / "jobs" / "configs" / "train_small.yaml"),
            "space": {"optim.lr": {"loguniform": [1e-4, 1e-2]}, "optim.weight_decay": {"loguniform": [1e-7, 1e-3]}},
            "objective": [{"metric": "auc", "mode": "max"}],
            "scheduler": "none",
            "num_samples": trials,
            "max_concurrent_trials": 2,
            "resources": {"cpus_per_trial": trial_cpus},
            "run": {"name": name, "storage_path": str(storage)},
        }
    )


def _time_raylane(storage: Path, name: str, trials: int, trial_cpus: float) -> float:
    from framework.tune import run_sweep

    started = time.perf_counter()
    run_sweep(_trivial_sweep(storage, name, trials, trial_cpus), log=lambda line: None, trainable=trivial_trial, max_epochs=1)
    return time.perf_counter() - started


def _time_optuna(trials: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=max(2, min(10, trials // 4))))
    started = time.perf_counter()
    study.optimize(lambda t: objective_value(t.suggest_float("lr", 1e-4, 1e-2, log=True), t.suggest_float("wd", 1e-7, 1e-3, log=True)), n_trials=trials)
    return time.perf_counter() - started


def _time_tune_defaults(storage: Path, trials: int) -> float:
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    def objective(config):
        tune.report({"auc": objective_value(config["lr"], config["wd"])})

    tuner = tune.Tuner(
        objective,
        param_space={"lr": tune.loguniform(1e-4, 1e-2), "wd": tune.loguniform(1e-7, 1e-3)},
        tune_config=tune.TuneConfig(search_alg=OptunaSearch(metric="auc", mode="max"), num_samples=trials, max_concurrent_trials=2),
        run_config=tune.RunConfig(name="tune-defaults", storage_path=str(storage), verbose=0),
    )
    started = time.perf_counter()
    tuner.fit()
    return time.perf_counter() - started


def measure_overhead(trials: int, tune_defaults: bool, trial_cpus: float, storage: Path) -> dict:
    from framework.ray_session import ensure_ray

    ensure_ray()
    _time_raylane(storage, "warm-up", 2, trial_cpus)  # first worker processes and imports: not per-trial cost
    raylane_full = _time_raylane(storage, "overhead", trials, trial_cpus)
    # the same command again: the budget is spent, so it only reopens the study and writes the
    # results and plots, which is the fixed cost of a sweep
    raylane_fixed = _time_raylane(storage, "overhead", trials, trial_cpus)
    optuna_full = _time_optuna(trials)
    per_trial_raylane = (raylane_full - raylane_fixed) / trials
    per_trial_optuna = optuna_full / trials
    result = {
        "trials": trials,
        "trial_cpus": trial_cpus,
        "raylane_s": raylane_full,
        "raylane_fixed_s": raylane_fixed,
        "optuna_alone_s": optuna_full,
        "raylane_s_per_trial": per_trial_raylane,
        "raylane_s_per_trial_including_fixed_costs": raylane_full / trials,
        "optuna_s_per_trial": per_trial_optuna,
        "overhead_s_per_trial": per_trial_raylane - per_trial_optuna,
        "goal_s_per_trial": OVERHEAD_GOAL_S,
    }
    if tune_defaults:
        result["tune_defaults_s"] = _time_tune_defaults(storage, trials)
        result["tune_defaults_s_per_trial"] = result["tune_defaults_s"] / trials
    return result


def _ctr_sweep(storage: Path, data: Path, name: str, budget: int, epochs: int, sampler: str, scheduler: dict):
    from framework.tune.config import SweepConfig

    paths = [f"data.train={data / 'train'}", f"data.valid={data / 'valid'}", f"data.contract={data / 'train' / 'contract.yaml'}"]
    return SweepConfig.model_validate(
        {
            "base": str(REPO / "jobs" / "configs" / "train_small.yaml"),
            "overrides": [*paths, f"optim.epochs={epochs}"],
            "space": {
                "optim.lr": {"loguniform": [1e-4, 3e-2]},
                "optim.weight_decay": {"loguniform": [1e-8, 1e-3]},
                "model.embedding_dim": {"categorical": [4, 8, 16, 32]},
            },
            "tied": {"model.bottom_mlp.-1": "model.embedding_dim"},
            "objective": [{"metric": "auc", "mode": "max"}],
            "sampler": {"name": sampler, "seed": 0},
            "scheduler": scheduler,
            "num_samples": budget,
            "max_concurrent_trials": 1,  # one at a time: the order of trial-epochs is exact
            "resources": {"workers_per_trial": 0, "cpus_per_trial": 1.0},
            "run": {"name": name, "storage_path": str(storage)},
        }
    )


def _epochs_to_reach(study, target: float) -> tuple[int | None, int, float]:
    """(trial-epochs until an epoch first reports >= target, all trial-epochs, best AUC), in trial order."""
    spent, reached, best = 0, None, float("-inf")
    for trial in sorted(study.trials, key=lambda t: t.number):
        for entry in trial.user_attrs.get("history", []):
            spent += 1
            best = max(best, entry["auc"])
            if reached is None and entry["auc"] >= target - 1e-12:
                reached = spent
    return reached, spent, best


def _random_epochs_to_best(study) -> tuple[int, int, float]:
    """Random search without early stopping: the epochs of every trial up to and including its best one."""
    trials = sorted(study.trials, key=lambda t: t.number)
    best = max(trials, key=lambda t: t.value if t.value is not None else float("-inf"))
    spent = sum(len(t.user_attrs.get("history", [])) for t in trials if t.number <= best.number)
    return spent, sum(len(t.user_attrs.get("history", [])) for t in trials), best.value


def measure_efficiency(rows: int, budget: int, epochs: int, storage: Path) -> dict:
    from framework.data.generate import GenerateRequest, write_synthetic_dataset
    from framework.tune import run_sweep

    data = storage / "data"
    write_synthetic_dataset(data / "train", GenerateRequest(rows=rows, seed=1, days=2))
    write_synthetic_dataset(data / "valid", GenerateRequest(rows=max(rows // 4, 2000), seed=2, start_date="2026-01-03"))
    timings = {}
    started = time.perf_counter()
    random = run_sweep(_ctr_sweep(storage, data, "random", budget, epochs, "random", {"name": "none"}), log=lambda line: None)
    timings["random_s"] = time.perf_counter() - started
    started = time.perf_counter()
    tpe = run_sweep(_ctr_sweep(storage, data, "tpe-asha", budget, epochs, "tpe", {"name": "asha", "grace_period": 1, "reduction_factor": 3}), log=lambda line: None)
    timings["tpe_asha_s"] = time.perf_counter() - started
    from framework.tune.study import open_study

    random_study = open_study(_ctr_sweep(storage, data, "random", budget, epochs, "random", {"name": "none"}))
    tpe_study = open_study(_ctr_sweep(storage, data, "tpe-asha", budget, epochs, "tpe", {"name": "asha", "grace_period": 1, "reduction_factor": 3}))
    random_needed, random_total, target = _random_epochs_to_best(random_study)
    tpe_needed, tpe_total, tpe_best = _epochs_to_reach(tpe_study, target)
    return {
        "rows": rows, "budget_trials": budget, "epochs_per_trial": epochs,
        "random_best_auc": target, "tpe_asha_best_auc": tpe_best,
        "random_trial_epochs_to_its_best": random_needed, "random_trial_epochs_total": random_total,
        "tpe_asha_trial_epochs_to_random_best": tpe_needed, "tpe_asha_trial_epochs_total": tpe_total,
        "ratio": (tpe_needed / random_needed) if tpe_needed else None,
        "goal_ratio": EFFICIENCY_GOAL,
        "best_json": {"random": str(random.best_path), "tpe_asha": str(tpe.best_path)},
        **timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60, help="(a): trivial trials K")
    parser.add_argument("--tune-defaults", action=argparse.BooleanOptionalAction, default=True, help="(a): also time Tune's defaults")
    parser.add_argument("--trial-cpus", type=float, default=1.0, help="(a): CPUs per trivial trial (Tune's default is 1)")
    parser.add_argument("--rows", type=int, default=100_000, help="(b): synthetic training rows")
    parser.add_argument("--budget", type=int, default=20, help="(b): trials per search")
    parser.add_argument("--epochs", type=int, default=4, help="(b): epochs per trial")
    parser.add_argument("--skip", choices=["overhead", "efficiency"], help="run only the other measurement")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="raylane-bench-sweep-"))
    payload = {"args": vars(args)}
    try:
        if args.skip != "overhead":
            payload["overhead"] = overhead = measure_overhead(args.trials, args.tune_defaults, args.trial_cpus, workdir / "overhead")
            print(f"(a) overhead per trial: raylane {overhead['raylane_s_per_trial']:.3f} s, Optuna alone "
                  f"{overhead['optuna_s_per_trial']:.4f} s -> {overhead['overhead_s_per_trial']:.3f} s (goal <= {OVERHEAD_GOAL_S} s); "
                  f"{overhead['raylane_s_per_trial_including_fixed_costs']:.3f} s per trial with the fixed costs")
            if "tune_defaults_s_per_trial" in overhead:
                print(f"    Tune defaults: {overhead['tune_defaults_s_per_trial']:.3f} s per trial, "
                      f"{overhead['tune_defaults_s_per_trial'] / max(overhead['raylane_s_per_trial_including_fixed_costs'], 1e-9):.1f}x raylane's with its fixed costs")
        if args.skip != "efficiency":
            payload["efficiency"] = efficiency = measure_efficiency(args.rows, args.budget, args.epochs, workdir / "efficiency")
            ratio = efficiency["ratio"]
            print(f"(b) random search best AUC {efficiency['random_best_auc']:.4f} after {efficiency['random_trial_epochs_to_its_best']} "
                  f"trial-epochs; TPE + ASHA reached it after {efficiency['tpe_asha_trial_epochs_to_random_best']} "
                  f"(ratio {'not reached' if ratio is None else f'{ratio:.2f}'}, goal <= {EFFICIENCY_GOAL}); "
                  f"total trial-epochs {efficiency['random_trial_epochs_total']} vs {efficiency['tpe_asha_trial_epochs_total']}")
        print(f"wrote {write_result('sweep', payload)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    with private_raylane_home():
        main()
