"""The end-to-end demo job: setup → run → summary.

It does what raylane has built so far: generate synthetic training and held-out data, check them
against their contract, fit the feature pipeline and train a small model on Ray Train (local Ray by
default), then print the model's AUC beside the Bayes-optimal AUC of the planted click model.

    python -m jobs.demo jobs/configs/demo.yaml [key=value ...]
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import pyarrow.compute as pc

from framework.config import load_config
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


def generate_data(cfg: DemoConfig, workdir: Path) -> tuple[Path, Path]:
    section = cfg.generate
    train = GenerateRequest(
        rows=section.rows,
        seed=section.seed,
        days=section.days,
        start_date=section.start_date.isoformat(),
        drift=section.drift,
        files_per_day=section.files_per_day,
    )
    held_out_day = (section.start_date + dt.timedelta(days=section.days)).isoformat()
    valid = GenerateRequest(rows=cfg.valid_rows, seed=section.seed + 1, start_date=held_out_day, drift=section.drift)
    paths = []
    for name, request in (("train", train), ("valid", valid)):
        result = write_synthetic_dataset(workdir / "data" / name, request)
        _log(f"generated {result.rows:,} {name} rows in {result.files} files under {result.out} ({result.seconds:.1f} s)")
        paths.append(Path(result.out))
    return paths[0], paths[1]


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


def train_model(cfg: DemoConfig, workdir: Path, train_dir: Path, valid_dir: Path):
    from framework.train import run_training

    config_path = Path(cfg.train.config)
    if not config_path.is_absolute():
        config_path = PROJECT_ROOT / config_path
    runs = workdir / "runs"
    shutil.rmtree(runs / "demo", ignore_errors=True)  # the demo starts fresh; real runs resume by name
    overrides = [
        f"data.train={train_dir}",
        f"data.valid={valid_dir}",
        f"data.contract={train_dir / CONTRACT_FILE}",
        f"run.storage_path={runs}",
        "run.name=demo",
        *cfg.train.overrides,
    ]
    _, train_cfg = load_config(config_path, overrides, kind="train")
    result = run_training(train_cfg)
    best = result.metrics["best"]
    _log(f"model AUC {best['auc']:.4f} vs Bayes AUC {best.get('bayes_auc', float('nan')):.4f} on {best['valid_rows']:,} held-out rows")
    _log(f"bundle: {result.bundle}")
    return result


def main(cfg: DemoConfig) -> dict:
    workdir = setup(cfg)
    _log(f"workdir: {workdir}")
    train_dir, valid_dir = generate_data(cfg, workdir)
    for directory in (train_dir, valid_dir):
        check_data(directory)
    summary = summarise(train_dir)
    result = train_model(cfg, workdir, train_dir, valid_dir)
    return {**summary, "model_auc": result.metrics["best"]["auc"], "bundle": str(result.bundle)}


if __name__ == "__main__":
    _, config = load_config(sys.argv[1], sys.argv[2:], kind="demo")
    main(config)
