"""The end-to-end demo job: setup → run → summary, on the embedded defaults (local Ray, SQLite).

1. generate synthetic training data and a held-out day, and check both against their contract;
2. a tiny sweep (4 trials, TPE + ASHA) and its best config;
3. train a small DLRM on Ray Train; its AUC beside the Bayes-optimal AUC; the bundle is registered
   as `candidate` and promoted to `prod`;
4. batch-score the held-out day with `NAME@prod`, and send a few real HTTP requests to the served model;
5. a drifted day through the nightly loop: score → drift report → retrain on the recent window →
   gate the candidate against `prod` on fresh holdout data → promote or keep;
6. the registry (versions and aliases) and `raylane audit verify`.

    python -m jobs.demo jobs/configs/demo.yaml [key=value ...]
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import pyarrow.compute as pc

from framework.config import load_config, validate_mapping
from framework.config.home import raylane_home
from framework.config.jobs import DemoConfig
from framework.data import check_dataset, load_contract, read_table
from framework.data.generate import CONTRACT_FILE, GenerateRequest, write_synthetic_dataset
from framework.metrics import roc_auc

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def setup(cfg: DemoConfig) -> Path:
    workdir = Path(cfg.workdir) if cfg.workdir else raylane_home() / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def _generate(directory: Path, name: str, request: GenerateRequest) -> Path:
    result = write_synthetic_dataset(directory, request)
    _log(f"generated {result.rows:,} {name} rows in {result.files} files under {result.out} ({result.seconds:.1f} s)")
    return Path(result.out)


def generate_data(cfg: DemoConfig, workdir: Path) -> tuple[Path, Path]:
    section = cfg.generate
    train = GenerateRequest(rows=section.rows, seed=section.seed, days=section.days, start_date=section.start_date.isoformat(),
                            drift=section.drift, files_per_day=section.files_per_day)
    held_out_day = (section.start_date + dt.timedelta(days=section.days)).isoformat()
    valid = GenerateRequest(rows=cfg.valid_rows, seed=section.seed + 1, start_date=held_out_day, drift=section.drift)
    return _generate(workdir / "data" / "train", "train", train), _generate(workdir / "data" / "valid", "valid", valid)


def check_data(data_dir: Path) -> None:
    report = check_dataset(load_contract(data_dir / CONTRACT_FILE), data_dir)
    report.raise_if_failed()
    _log(report.summary())


def summarise(data_dir: Path) -> dict:
    table = read_table(data_dir, columns=["label", "p_true", "event_date", "I1", "C3"])
    labels = table["label"].to_numpy()
    summary = {
        "rows": table.num_rows,
        "days": pc.count_distinct(table["event_date"]).as_py(),
        "click_rate": float(labels.mean()),
        "bayes_auc": roc_auc(labels, table["p_true"].to_numpy()),
        "I1_null_share": table["I1"].null_count / table.num_rows,
        "C3_distinct": pc.count_distinct(table["C3"]).as_py(),
    }
    for key, value in summary.items():
        _log(f"{key:>14}: {value:.4f}" if isinstance(value, float) else f"{key:>14}: {value:,}")
    return summary


def _train_overrides(cfg: DemoConfig, train_dir: Path, valid_dir: Path, runs: Path, name: str) -> list[str]:
    return [f"data.train={train_dir}", f"data.valid={valid_dir}", f"data.contract={train_dir / CONTRACT_FILE}",
            f"run.storage_path={runs}", f"run.name={name}", f"registry.name={cfg.model_name}", *cfg.train.overrides]


def _config_path(cfg: DemoConfig) -> Path:
    path = Path(cfg.train.config)
    return path if path.is_absolute() else PROJECT_ROOT / path


def sweep(cfg: DemoConfig, workdir: Path, train_dir: Path, valid_dir: Path) -> None:
    from framework.tune.tiny import tiny_sweep

    overrides = _train_overrides(cfg, train_dir, valid_dir, workdir / "runs", "demo")[:4] + ["registry.name=null"]
    tiny_sweep(str(_config_path(cfg)), overrides, workdir / "runs", num_samples=cfg.sweep.trials, epochs=cfg.sweep.epochs)


def train_model(cfg: DemoConfig, workdir: Path, train_dir: Path, valid_dir: Path, name: str = "demo"):
    from framework.train import run_training

    runs = workdir / "runs"
    shutil.rmtree(runs / name, ignore_errors=True)  # the demo starts fresh; real runs resume by name
    _, train_cfg = load_config(_config_path(cfg), _train_overrides(cfg, train_dir, valid_dir, runs, name), kind="train")
    result = run_training(train_cfg)
    best = result.metrics["best"]
    _log(f"model AUC {best['auc']:.4f} vs Bayes AUC {best.get('bayes_auc', float('nan')):.4f} on {best['valid_rows']:,} held-out rows")
    return result


def promote_to_prod(cfg: DemoConfig, version: str, holdout: Path) -> None:
    """The first demo run has no @prod yet; a rerun gates the new version against the earlier one."""
    from framework.registry import PromotionRefused, promote

    try:
        decision = promote(cfg.model_name, version, "prod", holdout=holdout)
        _log(f"registry: promoted {cfg.model_name}/{version} to @prod: {decision.summary()}")
    except PromotionRefused as refused:
        _log(f"registry: kept the earlier @prod: {refused}")


def score_and_serve(cfg: DemoConfig, workdir: Path, valid_dir: Path) -> None:
    from framework.score import score_held_out_day
    from framework.serve import demo_requests

    model = f"{cfg.model_name}@prod"
    score_held_out_day(model, valid_dir, workdir / "scores", log=print)
    demo_requests(model, read_table(valid_dir), rows=3, port=cfg.serve_port)


def drifted_night(cfg: DemoConfig, workdir: Path, train_dir: Path):
    """A drifted day after the held-out one: the nightly loop decides whether to retrain and promote."""
    from framework.monitor.nightly import run_nightly

    section, drift = cfg.generate, cfg.drift
    day = (section.start_date + dt.timedelta(days=section.days + 1)).isoformat()
    data = workdir / "data"
    seed = section.seed + 10
    make = lambda name, rows, offset: _generate(data / name, name, GenerateRequest(  # noqa: E731
        rows=rows, seed=seed + offset, start_date=day, drift=drift.drift, files_per_day=2))
    recent, recent_valid = make("recent", drift.recent_rows, 0), make("recent_valid", cfg.valid_rows, 1)
    drifted_day, holdout = make("drifted_day", drift.day_rows, 2), make("holdout", cfg.valid_rows, 3)
    shutil.rmtree(workdir / "runs" / f"nightly-{day}", ignore_errors=True)
    retrain = _train_overrides(cfg, recent, recent_valid, workdir / "runs", f"nightly-{day}")
    mapping = {"model": f"{cfg.model_name}@prod", "registry_name": cfg.model_name,
               "score": {"input": str(drifted_day), "output": str(workdir / "scores"), "run_date": day},
               "retrain": {"config": str(_config_path(cfg)), "overrides": retrain}, "gate": {"holdout": str(holdout)}}
    _, nightly_cfg = validate_mapping(mapping, kind="nightly", source="demo nightly")
    result = run_nightly(nightly_cfg)
    _log(f"drifted day {day}: {len(result.drift['breaches'])} drift breach(es), decision: {result.decision}")
    return result


def show_registry_and_audit(cfg: DemoConfig) -> None:
    from framework.governance import AuditLog
    from framework.registry import list_models

    for model in list_models():
        if model["name"] == cfg.model_name:
            aliases = ", ".join(f"@{a} -> {v}" for a, v in sorted(model["aliases"].items()))
            _log(f"registry: {model['name']} versions {model['versions']}; {aliases}")
    log = AuditLog.default()
    verified = log.verify()
    _log(f"audit verify: {'ok' if verified.ok else 'FAILED at line ' + str(verified.first_bad_line)}: "
         f"{verified.records} records in {log.path}")


def main(cfg: DemoConfig) -> dict:
    from framework.ray_session import ensure_ray

    from framework.console import LOG_FILE, log_to

    workdir = setup(cfg)
    _log(f"workdir: {workdir}")
    log_to(workdir / LOG_FILE, pin=True)  # one log for the whole demo, whatever its runs ask for
    train_dir, valid_dir = generate_data(cfg, workdir)
    for directory in (train_dir, valid_dir):
        check_data(directory)
    summary = summarise(train_dir)
    ensure_ray()
    if cfg.sweep.enabled:
        sweep(cfg, workdir, train_dir, valid_dir)
    result = train_model(cfg, workdir, train_dir, valid_dir)
    promote_to_prod(cfg, result.model_version, valid_dir)
    score_and_serve(cfg, workdir, valid_dir)
    if cfg.drift.enabled:
        drifted_night(cfg, workdir, train_dir)
    show_registry_and_audit(cfg)
    _log(f"bundle: {result.bundle}")
    return {**summary, "model_auc": result.metrics["best"]["auc"], "bundle": str(result.bundle)}


if __name__ == "__main__":
    from framework.cli.job_entry import run_job

    sys.exit(run_job("demo", main))
