"""What a sweep found, read from its study: a row per trial, best.json and the summary table.

best.json holds the best trial (one objective) or the Pareto front (several), each with its
parameters, objective values, the epoch it keeps (`kept_epoch`, whose values those are; see
framework.tune.kept) and that epoch's metrics, its last metrics and the full training config that
reproduces it.

Example:
    >>> rows = trial_rows(study, cfg)
    >>> summary = write_best(cfg, study, rows, sweep_dir / "best.json")
    >>> print(format_table(rows, cfg, summary))
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from framework.errors import RaylaneError
from framework.tune.kept import KeptEpochRule
from framework.tune.space import trial_train_dict
from framework.tune.study import INTERRUPTED_KEY, RETRY_OF_KEY, storage_url

__all__ = ["NoFinishedTrial", "TrialRow", "best_entries", "format_table", "report_results", "trial_rows", "write_best"]


class NoFinishedTrial(RaylaneError):
    """Every trial failed: there is no best config to report."""

    exit_code = 1


@dataclass
class TrialRow:
    """One Optuna trial as the sweep reports it."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    params: dict
    values: dict  # objective metric -> value of the kept epoch (finished trials only)
    metrics: dict = field(default_factory=dict)  # last epoch's metrics
    kept: dict = field(default_factory=dict)  # the kept epoch's metrics ({} in studies from before kept epochs)
    planned_epochs: int = 0
    interrupted: bool = False  # left RUNNING by a killed driver (and queued again)
    retry_of: int | None = None
    tune_trial_id: str | None = None
    initial_params: dict | None = None  # pbt: the sampled values, before exploits copied and mutated them

    @property
    def epochs(self) -> int:
        return int(self.metrics.get("epoch", 0))

    @property
    def kept_epoch(self) -> int | None:
        return int(self.kept["epoch"]) if "epoch" in self.kept else None

    @property
    def stopped_early(self) -> bool:
        return self.state == "COMPLETE" and 0 < self.epochs < self.planned_epochs


def trial_rows(study, cfg) -> list[TrialRow]:
    interrupted = set(study.user_attrs.get(INTERRUPTED_KEY, []))
    base_epochs = int(cfg.base_train_dict().get("optim", {}).get("epochs", 2))
    metrics = [o.metric for o in cfg.objective]
    rows = []
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        values = dict(zip(metrics, trial.values)) if trial.values is not None else {}
        final = trial.user_attrs.get("final_params")
        rows.append(
            TrialRow(
                number=trial.number,
                state=trial.state.name,
                params=dict(final or trial.params),
                initial_params=dict(trial.params) if final and final != trial.params else None,
                values=values,
                metrics=dict(trial.user_attrs.get("metrics", {})),
                kept=dict(trial.user_attrs.get("kept", {})),
                planned_epochs=int(trial.params.get("optim.epochs", base_epochs)),
                interrupted=trial.number in interrupted,
                retry_of=trial.user_attrs.get(RETRY_OF_KEY),
                tune_trial_id=trial.user_attrs.get("tune_trial_id"),
            )
        )
    return rows


def best_entries(study, cfg) -> list[int]:
    """Trial numbers of the best trial, or of the Pareto front (sorted by the first objective)."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    if not cfg.is_multi_objective:
        return [study.best_trial.number]
    sign = -1.0 if cfg.objective[0].mode == "max" else 1.0
    front = sorted(study.best_trials, key=lambda t: (sign * t.values[0], t.number))
    return [t.number for t in front]


def _entry(row: TrialRow, cfg) -> dict:
    train = trial_train_dict(cfg.base_train_dict(), row.params, cfg.tied)
    return {
        "trial": row.number,
        "params": row.params,
        "values": row.values,
        "kept_epoch": row.kept_epoch,
        "kept_metrics": row.kept,
        "metrics": row.metrics,
        "epochs": row.epochs,
        "stopped_early": row.stopped_early,
        "tune_trial_id": row.tune_trial_id,
        "train_run": str(cfg.sweep_directory() / "trials" / f"train-{row.tune_trial_id}") if row.tune_trial_id else None,
        "train_config": train,
        **({"initial_params": row.initial_params} if row.initial_params else {}),
    }


def write_best(cfg, study, rows: list[TrialRow], path: Path) -> dict:
    """Write best.json atomically and return its content."""
    numbers = best_entries(study, cfg)
    if not numbers:
        failed = sum(r.state == "FAIL" for r in rows)
        raise NoFinishedTrial(
            f"sweep {cfg.run.name}: no trial finished ({failed} failed); the trial logs are under {cfg.sweep_directory() / 'tune'}"
        )
    by_number = {r.number: r for r in rows}
    counted = [r for r in rows if not r.interrupted and r.state in ("COMPLETE", "PRUNED", "FAIL")]
    summary = {
        "sweep": cfg.run.name,
        "study": {"storage": _display_url(storage_url(cfg)), "name": cfg.run.study_name or cfg.run.name},
        "objective": [o.model_dump() for o in cfg.objective],
        "kept_by": asdict(KeptEpochRule.of_study(study)),  # the values are of each trial's best epoch by this
        "trials": {
            "budget": cfg.num_samples,
            "finished": len(counted),
            "complete": sum(r.state == "COMPLETE" for r in counted),
            "stopped_early": sum(r.stopped_early for r in counted),
            "failed": sum(r.state == "FAIL" for r in counted),
            "interrupted_and_retried": sorted(r.number for r in rows if r.interrupted),
        },
    }
    if cfg.is_multi_objective:
        summary["pareto_front"] = [_entry(by_number[n], cfg) for n in numbers]
        summary["best"] = summary["pareto_front"][0]  # the front's best by the first objective
    else:
        summary["best"] = _entry(by_number[numbers[0]], cfg)
    path = Path(path)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
    os.replace(temporary, path)
    return summary


def _display_url(url: str) -> str:
    """Never write a database password into best.json."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _cell(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return str(int(value))  # parameter counts
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def format_table(rows: list[TrialRow], cfg, summary: dict) -> str:
    """A plain-text table of every trial; `*` marks the best trial or the Pareto front, `kept` is the
    epoch whose values the objective columns show."""
    marked = {e["trial"] for e in summary.get("pareto_front", [summary["best"]])}
    keys, metrics = list(cfg.space), [o.metric for o in cfg.objective]
    header = ["", "trial", "state", "epochs", "kept", *keys, *metrics]
    lines = []
    for row in rows:
        state = "STOPPED" if row.stopped_early else ("INTERRUPTED" if row.interrupted else row.state)
        cells = ["*" if row.number in marked else "", str(row.number), state, str(row.epochs), _cell(row.kept_epoch)]
        cells += [_cell(row.params.get(k)) for k in keys] + [_cell(row.values.get(m)) for m in metrics]
        lines.append(cells)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines)]
    render = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    table = [render(header), render(["-" * w for w in widths])] + [render(cells) for cells in lines]
    return "\n".join(table)


def report_results(cfg, study, sweep_dir: Path, log=print) -> tuple[dict, str, dict]:
    """best.json, the printed table and the plots of the sweep as the study holds it now."""
    from framework.tune.plots import write_plots

    rows = trial_rows(study, cfg)
    summary = write_best(cfg, study, rows, Path(sweep_dir) / "best.json")
    table = format_table(rows, cfg, summary)
    plots = write_plots(study, cfg, Path(sweep_dir) / "plots")
    counts = summary["trials"]
    log(f"[sweep] {counts['finished']} trial(s) finished: {counts['complete']} complete "
        f"({counts['stopped_early']} stopped early by the scheduler), {counts['failed']} failed")
    log(table)
    for name, where in plots.items():
        log(f"[sweep] plot {name}: {where}")
    best = summary["best"]
    values = ", ".join(f"{k} {v:.4g}" for k, v in best["values"].items())
    kept = f" (epoch {best['kept_epoch']})" if best["kept_epoch"] is not None else ""
    log(f"[sweep] best trial {best['trial']}: {values}{kept} with {json.dumps(best['params'])}")
    return summary, table, plots
