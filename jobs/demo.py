"""The end-to-end demo job: setup → run → summary.

It does what raylane has built so far: generate synthetic data, check it against its contract,
and summarise it (rows, click rate, the Bayes-optimal AUC of the planted model).

    python -m jobs.demo jobs/configs/demo.yaml [key=value ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.compute as pc

from framework.config import load_config
from framework.config.home import raylane_home
from framework.config.jobs import DemoConfig
from framework.data import check_dataset, load_contract, read_table
from framework.data.generate import CONTRACT_FILE, GenerateRequest, write_synthetic_dataset
from framework.metrics import roc_auc


def _log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def setup(cfg: DemoConfig) -> Path:
    workdir = Path(cfg.workdir) if cfg.workdir else raylane_home() / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def generate_data(cfg: DemoConfig, workdir: Path) -> Path:
    section = cfg.generate
    request = GenerateRequest(
        rows=section.rows,
        seed=section.seed,
        days=section.days,
        start_date=section.start_date.isoformat(),
        drift=section.drift,
        files_per_day=section.files_per_day,
    )
    result = write_synthetic_dataset(workdir / "data", request)
    _log(f"generated {result.rows:,} rows in {result.files} files under {result.out} ({result.seconds:.1f} s)")
    return Path(result.out)


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


def main(cfg: DemoConfig) -> dict:
    workdir = setup(cfg)
    _log(f"workdir: {workdir}")
    data_dir = generate_data(cfg, workdir)
    check_data(data_dir)
    return summarise(data_dir)


if __name__ == "__main__":
    _, config = load_config(sys.argv[1], sys.argv[2:], kind="demo")
    main(config)
