"""Running a drift check: a bundle and some data in, `drift.json` and `drift.png` out.

Example:
    >>> report = check_drift("runs/ctr/bundle", "data/day=2026-01-09")      # doctest: +SKIP
    >>> write_drift_report(report, "out/run_date=2026-01-09")              # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from framework.errors import ArtifactError
from framework.monitor.drift import DriftThresholds, add_importance, drift_report, input_sources

__all__ = ["seeded_sample", "check_drift", "drift_for_table", "write_drift_report", "PROFILE_FILE", "EXPLAIN_FILE",
           "DRIFT_FILE", "CHART_FILE"]

PROFILE_FILE = "profile.json"
EXPLAIN_FILE = "explain.json"  # written by framework.explain at training; read here as a file, never by importing it
DRIFT_FILE = "drift.json"
CHART_FILE = "drift.png"
SAMPLE_ROWS = 200_000  # PSI over 10–20 bins is stable long before this; keeps checks cheap on big days


def bundle_profile(bundle) -> dict:
    path = bundle.directory / PROFILE_FILE
    if PROFILE_FILE not in bundle.checksums or not path.is_file():
        raise ArtifactError(f"{bundle.directory}: the bundle has no {PROFILE_FILE}; retrain it with this raylane to get one")
    return json.loads(path.read_text())


def bundle_importance(bundle) -> dict[str, float] | None:
    """Raw column → permutation importance from the bundle's explain.json; None when it has none."""
    if EXPLAIN_FILE not in bundle.checksums:
        return None
    explanation = json.loads((bundle.directory / EXPLAIN_FILE).read_text())
    return {row["column"]: row["importance"] for row in explanation["columns"]}


def drift_for_table(bundle, table: pa.Table, thresholds: DriftThresholds = DriftThresholds()) -> dict:
    """Drift of one table's rows against the bundle's profile (model inputs and predictions); breaches
    carry their raw columns' importance when the bundle was explained."""
    from framework.models.inputs import finite_inputs

    arrays = bundle.pipeline.transform_to_arrays(table, passthrough=False)
    inputs = finite_inputs(arrays)
    scores = bundle.predict_proba(inputs["continuous"], inputs["categorical"])
    report = drift_report(bundle_profile(bundle), bundle.pipeline, arrays, scores, thresholds)
    importance = bundle_importance(bundle)
    return report if importance is None else add_importance(report, input_sources(bundle.pipeline), importance)


def sample_parquet(files, columns: list[str], rows: int) -> pa.Table:
    """About `rows` rows from whole row groups spread evenly over the files (`ParquetFiles`), so a
    big day is sampled without reading all of it; every row when there are fewer."""
    from framework.data.parquet_io import open_parquet, read_file

    groups = [(path, index, metadata.row_group(index).num_rows)
              for path, metadata in ((path, open_parquet(files, path).metadata) for path in files.paths)
              for index in range(metadata.num_row_groups)]
    total = sum(group_rows for _, _, group_rows in groups)
    if total > rows:
        wanted = min(len(groups), int(np.ceil(len(groups) * rows / total)))
        groups = [groups[i] for i in np.unique(np.linspace(0, len(groups) - 1, wanted).round().astype(int))]
    tables = [read_file(files, path, columns, row_groups=[index]) for path, index, _ in groups]
    return seeded_sample(pa.concat_tables(tables), rows) if tables else pa.table({c: pa.array([]) for c in columns})


def seeded_sample(table: pa.Table, rows: int, seed: int = 0) -> pa.Table:
    """A seeded sample of `rows` rows in their original order (the table itself when smaller)."""
    if table.num_rows <= rows:
        return table
    picked = np.sort(np.random.default_rng(seed).choice(table.num_rows, rows, replace=False))
    return table.take(pa.array(picked))


def check_drift(model: str | os.PathLike, data, thresholds: DriftThresholds = DriftThresholds(),
                sample_rows: int = SAMPLE_ROWS, where=None) -> dict:
    """Load the bundle, read the columns its pipeline needs from `data` (one partition with `where`),
    compare a seeded sample. Partition columns are typed by the bundle's contract."""
    from framework.data import list_parquet_files, load_contract
    from framework.features._plan import raw_inputs
    from framework.models import load_bundle
    from framework.models.identity import bundle_identity
    from framework.registry.versions import resolve_bundle

    path, identity = resolve_bundle(model)
    bundle = load_bundle(path)
    if bundle.pipeline is None:
        raise ArtifactError(f"{bundle.directory}: the bundle has no pipeline/; drift is measured on its model inputs")
    identity = identity or bundle_identity(bundle)
    types = load_contract(bundle.contract_path).arrow_schema() if bundle.contract_path is not None else None
    files = list_parquet_files(data, where, types)
    table = sample_parquet(files, raw_inputs(bundle.pipeline.ops), sample_rows)
    report = drift_for_table(bundle, table, thresholds)
    report["model"] = {"name": identity.name, "version": identity.version}
    return report


def _chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    names = [*report["features"], "prediction"]
    values = [row["psi"] for row in report["features"].values()] + [report["prediction"]["psi"]]
    threshold = report["thresholds"]["psi"]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.28 * len(names)), 3.6))
    axes.bar(range(len(names)), values, color=["#c0392b" if v > threshold else "#2e86c1" for v in values])
    axes.axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"PSI threshold {threshold}")
    axes.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    axes.set_ylabel("PSI")
    axes.set_title(f"Drift against the training profile ({report['rows']:,} rows)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_drift_report(report: dict, directory: str | os.PathLike) -> Path:
    """Write `drift.json` and `drift.png` into `directory`; returns the JSON path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / DRIFT_FILE
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    _chart(report, directory / CHART_FILE)
    return path
