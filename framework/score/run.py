"""Nightly batch scoring, exactly once: plan → check → score the pending tasks → publish.

1. Plan on the driver (footers only): the input files, the contract check against the bundle's
   contract.yaml (missing column, wrong type, corrupt or empty file: ContractError, nothing written),
   the tasks, and the run key (model hash, input files, settings).
2. Resume the staging area of that run key: tasks in its ledger are skipped.
3. Score the other tasks in a Ray Data actor pool; each actor writes its chunks and ledger entry.
4. Refuse to publish when a task failed or the rejected fraction exceeds `max_reject_fraction`.
5. Commit: manifest.json, then _SUCCESS, then one atomic move into OUTPUT/run_date=YYYY-MM-DD.

Example:
    >>> result = run_scoring(ScoreConfig(model="runs/ctr/bundle", input="data/day", output="scores",
    ...                                  run_date="2026-01-04"))                  # doctest: +SKIP
    >>> print(result.summary())                                                   # doctest: +SKIP
    committed scores/run_date=2026-01-04: 50,000 rows (50,000 scored, 0 rejected) ...
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from framework.errors import ConfigError, DataError
from framework.score._commit import FORMAT, FORMAT_VERSION, commit_run
from framework.score._plan import RunPlan, plan_run, run_key
from framework.score._rows import SCORE_COLUMN, VERSION_COLUMN
from framework.score._staging import StagingArea, run_directory_name
from framework.score._worker import ScoringJob
from framework.score.config import ScoreConfig

__all__ = ["ScoreResult", "RejectLimitError", "run_scoring"]

Log = Callable[[str], None]


class RejectLimitError(DataError):
    """More rows were rejected than `max_reject_fraction` allows; nothing was published."""


@dataclass(frozen=True)
class ScoreResult:
    run_dir: Path
    manifest: dict
    seconds: float
    tasks_skipped: int
    timings: dict  # seconds: plan (footers + contract check), score (the actor pool), commit

    @property
    def rows_per_s(self) -> float:
        return self.manifest["rows"]["in"] / max(self.seconds, 1e-9)

    def summary(self) -> str:
        rows, model = self.manifest["rows"], self.manifest["model"]
        return (
            f"committed {self.run_dir}: {rows['in']:,} rows ({rows['scored']:,} scored, {rows['rejected']:,} rejected) "
            f"in {self.seconds:.1f} s ({self.rows_per_s:,.0f} rows/s), model {model['name']} {model['version']}"
        )


def _print(message: str) -> None:
    print(message, flush=True)


class _Progress:
    """On a terminal, a bar of rows scored; elsewhere one line per finished task, at most every `every_s`
    seconds: rows done, rows/s, rejected."""

    def __init__(self, total: int, done: dict, every_s: float, log: Log):
        import sys

        from framework.progress import ProgressDisplay

        self.total, self.every_s, self.log = total, every_s, log
        self.rows = sum(e["rows_in"] for e in done.values())
        self.rejected = sum(e["rows_rejected"] for e in done.values())
        self.started = self.last = time.perf_counter()
        self.scored_here = 0
        self.bar = ProgressDisplay("[score] rows", total, unit="rows") if sys.stderr.isatty() else None

    def update(self, entry: dict) -> None:
        self.rows += entry["rows_in"]
        self.rejected += entry["rows_rejected"]
        self.scored_here += entry["rows_in"]
        if self.bar is not None:
            self.bar.update(self.rows, f"{self.rejected:,} rejected")
            if self.rows == self.total:
                self.bar.close()
            return
        now = time.perf_counter()
        if now - self.last >= self.every_s or self.rows == self.total:
            self.last = now
            rate = self.scored_here / max(now - self.started, 1e-9)
            self.log(f"[score] {self.rows:,}/{self.total:,} rows ({self.rows / self.total:.0%}), "
                     f"{rate:,.0f} rows/s, {self.rejected:,} rejected")


def _local_output(output: str) -> Path:
    if "://" in output and not output.startswith("file://"):
        raise ConfigError(
            f"output {output!r}: batch scoring publishes with an atomic directory rename, which object stores lack; "
            "give a local or mounted path (input may stay on s3:// or gs://)"
        )
    return Path(output.removeprefix("file://")).expanduser().absolute()


def _job(cfg: ScoreConfig, plan: RunPlan, scorer, area: StagingArea, device: str) -> dict:
    hive = {c.name: c.type for c in plan.contract.columns if c.name not in plan.read_columns}
    return ScoringJob(
        model=str(scorer.bundle.directory),
        staging_root=str(area.root),
        read_columns=plan.read_columns,
        keep_columns=plan.keep_columns,
        partition_types=hive,
        non_nullable=list(plan.checks.non_nullable),
        batch_rows=cfg.batch.rows,
        predict_rows=cfg.batch.predict_rows,
        torch_threads=cfg.pool.torch_threads,
        device=device,
    ).as_dict()


def _score_pending(cfg: ScoreConfig, plan: RunPlan, scorer, area: StagingArea, done: dict, log: Log,
                   watchdog) -> None:
    from framework.capacity import Cluster
    from framework.score._pool import check_pool_fits, pool_shape, run_pool
    from framework.workload import resolve_placement

    pending = [task for task in plan.tasks if task.name not in done]
    if not pending:
        return
    placement = resolve_placement(cfg.workload, log=log)
    if placement.constrained:
        log(f"[score] workload {cfg.workload}: scoring actors run only on the nodes that accept it")
    cluster = Cluster.from_ray(placement)
    shape = pool_shape(cfg.pool, cluster.total, len(pending))
    check_pool_fits(cfg.pool, shape, cluster, log)
    log(f"[score] scoring {len(pending)} task(s) on {shape}")
    watchdog.stage("scoring tasks (Ray Data actor pool)")
    progress, errors = _Progress(plan.rows, done, cfg.progress_every_s, log), []
    for entry in run_pool(pending, _job(cfg, plan, scorer, area, shape.device), shape, cfg.pool.max_task_retries,
                          placement.remote_args()):
        watchdog.progress()
        if "error" in entry:
            errors.append(entry["error"])
            continue
        done[entry["task"]] = entry
        progress.update(entry)
    if errors:
        lines = "\n  ".join(sorted(errors))
        raise DataError(f"{len(errors)} task(s) failed; nothing was published (finished tasks stay staged)\n  {lines}")


def _totals(plan: RunPlan, done: dict) -> dict:
    missing = [task.name for task in plan.tasks if task.name not in done]
    if missing:  # the pool ended without an entry for every task: never publish a partial run
        raise DataError(f"{len(missing)} task(s) have no ledger entry after scoring (e.g. {missing[0]}); nothing was published")
    rows = {key: sum(done[t.name][f"rows_{key}"] for t in plan.tasks) for key in ("in", "scored", "rejected")}
    if rows["in"] != plan.rows:
        raise DataError(f"scored {rows['in']:,} rows, but the input footers hold {plan.rows:,}; nothing was published")
    return rows


def _check_rejects(cfg: ScoreConfig, rows: dict, reasons: Counter, area: StagingArea) -> None:
    fraction = rows["rejected"] / rows["in"]
    if fraction > cfg.max_reject_fraction:
        top = ", ".join(f"{reason}: {count:,}" for reason, count in reasons.most_common(5))
        raise RejectLimitError(
            f"{rows['rejected']:,} of {rows['in']:,} rows rejected ({fraction:.4%}), above max_reject_fraction "
            f"{cfg.max_reject_fraction:g}; nothing was published. Reasons: {top}. "
            f"The rejected rows are staged in {area.run / '_rejected'}"
        )


def _drift_reports(cfg: ScoreConfig, plan: RunPlan, scorer, area: StagingArea, log: Log) -> tuple[list[dict], dict | None]:
    """drift.json and drift.png of this run (a sample of the input against the bundle's profile),
    written into the staged run so they are committed with it. ([], None) without a profile."""
    from framework.monitor import PROFILE_FILE, drift_for_table, write_drift_report
    from framework.monitor.check import CHART_FILE, sample_parquet
    if not cfg.drift.enabled:
        return [], None
    if PROFILE_FILE not in scorer.bundle.checksums:
        log(f"[score] drift check skipped: the bundle has no {PROFILE_FILE} (retrain it to get one)")
        return [], None
    sample = sample_parquet(plan.files, scorer.input_columns, cfg.drift.sample_rows)
    report = drift_for_table(scorer.bundle, sample, cfg.drift.thresholds())
    report["model"] = {"name": scorer.identity.name, "version": scorer.identity.version}
    path = write_drift_report(report, area.run)
    breaches = ", ".join(f"{b['feature']} {b['metric']} {b['value']:.3f}" for b in report["breaches"][:6])
    log(f"[score] drift: {'BREACHED (' + breaches + ')' if report['drifted'] else 'within thresholds'} on {report['rows']:,} sampled rows")
    files = [{"path": name, "sha256": hashlib.sha256((area.run / name).read_bytes()).hexdigest()} for name in (path.name, CHART_FILE)]
    return files, report


def _manifest(cfg: ScoreConfig, plan: RunPlan, scorer, key: str, done: dict, rows: dict, reasons: Counter,
              reports: list[dict], drift: dict | None) -> dict:
    from framework.lineage import code_version, data_snapshot

    entries = [done[task.name] for task in plan.tasks]
    identity = scorer.identity
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_date": cfg.run_date.isoformat(),
        "run_key": key,
        "model": {"name": identity.name, "version": identity.version, "sha256": identity.sha256,
                  "bundle": str(scorer.bundle.directory)},
        "input": {"source": cfg.input, "snapshot": data_snapshot(plan.files)["hash"],
                  "files": len(plan.files.paths), "rows": plan.rows},
        "code": code_version(),
        "columns": {"id": cfg.id_column, "passthrough": cfg.passthrough, "score": SCORE_COLUMN, "model_version": VERSION_COLUMN},
        "rows": rows,
        "rejected_reasons": dict(sorted(reasons.items())),
        "max_reject_fraction": cfg.max_reject_fraction,
        "files": [f for e in entries for f in e["files"]],
        "rejected_files": [f for e in entries for f in e["rejected_files"]],
        "reports": reports,
        "drift": None if drift is None else {"drifted": drift["drifted"], "breaches": [b["feature"] for b in drift["breaches"]]},
    }


def run_scoring(cfg: ScoreConfig, log: Log = _print) -> ScoreResult:
    """Score `cfg.input` with `cfg.model` and commit OUTPUT/run_date=YYYY-MM-DD exactly once.

    Raises ContractError / DataError / RejectLimitError (nothing published) on bad input, and
    Stalled when no task finishes for `run.stall_timeout_s` (finished tasks stay staged).
    """
    from framework.ray_session import ensure_ray
    from framework.watchdog import StallWatchdog

    ensure_ray()
    with StallWatchdog("score", cfg.run.stall_timeout_s, log=log) as watchdog:
        return _run_scoring(cfg, log, watchdog)


def _run_scoring(cfg: ScoreConfig, log: Log, watchdog) -> ScoreResult:
    from framework.score.scorer import BundleScorer

    started = time.perf_counter()
    output = _local_output(cfg.output)
    scorer = BundleScorer(cfg.model)
    plan = plan_run(cfg, scorer)
    key = run_key(cfg, plan, scorer.identity.sha256)
    area = StagingArea(output, cfg.run_date.isoformat(), key)
    done = area.resume()
    skipped = len(done)
    log(f"[score] {plan.rows:,} rows in {len(plan.files.paths)} file(s) match the contract; {len(plan.tasks)} task(s), "
        f"{skipped} already scored in {area.root}")
    planned = time.perf_counter()
    _score_pending(cfg, plan, scorer, area, done, log, watchdog)
    watchdog.stage("drift check and commit")
    scored = time.perf_counter()
    rows = _totals(plan, done)
    reasons = Counter()
    for task in plan.tasks:
        reasons.update(done[task.name]["reasons"])
    _check_rejects(cfg, rows, reasons, area)
    run_dir = output / run_directory_name(cfg.run_date.isoformat())
    reports, drift = _drift_reports(cfg, plan, scorer, area, log)
    manifest = _manifest(cfg, plan, scorer, key, done, rows, reasons, reports, drift)
    commit_run(area, run_dir, manifest)
    finished = time.perf_counter()
    timings = {"plan": planned - started, "score": scored - planned, "commit": finished - scored}
    result = ScoreResult(run_dir, manifest, finished - started, skipped, timings)
    log(f"[score] {result.summary()}")
    _record(cfg, result)
    return result


def _record(cfg: ScoreConfig, result: ScoreResult) -> None:
    """The committed run in the audit log and, with `track`, in MLflow (settings, counts, lineage)."""
    from framework.governance import AuditLog
    from framework.lineage import config_hash

    manifest, settings = result.manifest, cfg.model_dump(mode="json")
    model = {"name": manifest["model"]["name"], "version": manifest["model"]["version"]}
    AuditLog.default().append("score", "ok", model=model, config_hash=config_hash(settings),
                              data_hash=manifest["input"]["snapshot"],
                              details={"run_dir": str(result.run_dir), "rows": manifest["rows"], "drift": manifest["drift"]})
    if cfg.track:
        from framework.registry.tracking import log_run

        metrics = {**manifest["rows"], "rows_per_s": result.rows_per_s, "seconds": result.seconds}
        lineage = {"code": manifest["code"], "config_hash": config_hash(settings), "seed": None,
                   "data": {"input": {"hash": manifest["input"]["snapshot"], "rows": manifest["input"]["rows"]}}}
        log_run("score", f"score-{cfg.run_date.isoformat()}", config=settings, metrics_by_epoch=[metrics], lineage=lineage,
                tags={"raylane.model": f"{model['name']}/{model['version']}", "raylane.run_dir": str(result.run_dir)})
