"""PNG plots of a sweep, drawn by Optuna's matplotlib visualisations from the study.

One objective: `history.png` (optimisation history), `importances.png` (parameter importances),
`parallel.png` (parallel coordinates). Several: the same per objective (`history-auc.png`, ...)
plus `pareto.png` (the Pareto front). A plot Optuna cannot draw yet (importances need two finished
trials whose parameters vary) is skipped with the reason.

Example:
    >>> written = write_plots(study, cfg, sweep_dir / "plots")
    >>> written["history"]
    PosixPath('runs/sweep-small/plots/history.png')
"""

from __future__ import annotations

import warnings
from pathlib import Path

__all__ = ["write_plots"]


def _figure(plotted):
    """Optuna returns an Axes, or an array of them for several subplots."""
    import numpy as np

    axes = plotted.flat[0] if isinstance(plotted, np.ndarray) else plotted
    return axes.figure


def _save(draw, path: Path) -> Path | str:
    import matplotlib.pyplot as plt

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            figure = _figure(draw())
    except (ValueError, RuntimeError, ZeroDivisionError) as error:  # too few trials for this plot
        plt.close("all")
        return f"skipped: {str(error).splitlines()[0][:160]}"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def _drawings(study, cfg) -> dict:
    from optuna.visualization import matplotlib as plots

    metrics = [o.metric for o in cfg.objective]
    if not cfg.is_multi_objective:
        return {
            "history": lambda: plots.plot_optimization_history(study, target_name=metrics[0]),
            "importances": lambda: plots.plot_param_importances(study, target_name=metrics[0]),
            "parallel": lambda: plots.plot_parallel_coordinate(study, target_name=metrics[0]),
        }
    drawings = {"pareto": lambda: plots.plot_pareto_front(study, target_names=metrics)}
    for index, metric in enumerate(metrics):
        target = lambda trial, i=index: trial.values[i]  # noqa: E731
        drawings[f"history-{metric}"] = lambda t=target, m=metric: plots.plot_optimization_history(study, target=t, target_name=m)
        drawings[f"importances-{metric}"] = lambda t=target, m=metric: plots.plot_param_importances(study, target=t, target_name=m)
        drawings[f"parallel-{metric}"] = lambda t=target, m=metric: plots.plot_parallel_coordinate(study, target=t, target_name=m)
    return drawings


def write_plots(study, cfg, out_dir: Path) -> dict[str, Path | str]:
    """Draw every plot of the sweep into `out_dir`; returns name -> path, or the reason it was skipped."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a cluster node
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {name: _save(draw, out_dir / f"{name}.png") for name, draw in _drawings(study, cfg).items()}
