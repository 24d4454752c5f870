"""Planning a scoring run on the driver, before anything is written: which input files, whether they
satisfy the bundle's contract, and the units of work.

A unit of work (`ScoreTask`) is a run of consecutive row groups of one input file, about
`batch.rows_per_task` rows. One actor reads, checks, transforms, scores and writes it, so its output
chunks get names derived from the input file and the chunk (`part-<file key>-g<row group>-c<chunk>`)
and the staging ledger records whole tasks: a rerun skips exactly the tasks already done.

Example:
    >>> plan = plan_run(cfg, scorer)                                        # doctest: +SKIP
    >>> plan.rows, len(plan.tasks), plan.tasks[0].name                       # doctest: +SKIP
    (2000000, 8, 'event_date_2026-02-01__part-00000-3f2a9c1d-g00000')
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass

from framework.data import Contract, check_dataset, list_parquet_files, load_contract
from framework.data.contract import ColumnSpec
from framework.data.parquet_io import ParquetFiles, open_parquet, partition_values
from framework.errors import ArtifactError, ConfigError, ContractError, DataError
from framework.score._rows import RowChecks

__all__ = ["ScoreTask", "RunPlan", "plan_run", "scoring_contract"]

PLAN_VERSION = 1  # part of the run key: a change in how tasks or chunks are cut starts fresh staging
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ScoreTask:
    """Row groups [first_row_group, end_row_group) of one input file."""

    name: str  # unique in the run; prefix of its output chunk names and its ledger entry
    path: str  # the input file in its filesystem's form
    uri: str  # the same file as the user would name it (scheme included for object stores)
    first_row_group: int
    end_row_group: int
    rows: int
    partitions: dict  # hive keys of the file's directories, e.g. {"event_date": "2026-01-04"}

    def as_row(self) -> dict:
        return {**asdict(self), "partitions": json.dumps(self.partitions, sort_keys=True)}

    @classmethod
    def from_row(cls, row: dict) -> "ScoreTask":
        fields = {k: row[k] for k in cls.__dataclass_fields__}
        return cls(**{**fields, "partitions": json.loads(fields["partitions"])})


@dataclass(frozen=True)
class RunPlan:
    files: ParquetFiles
    contract: Contract  # the columns scoring reads, typed as the bundle's contract says
    checks: RowChecks
    read_columns: list[str]  # columns read from the files (hive partition columns are added)
    keep_columns: list[str]  # id + passthrough, as written to the output
    tasks: list[ScoreTask]
    rows: int
    file_stamps: list[dict]  # path, size, mtime of every input file: a rewritten file changes the run key


def _file_key(files: ParquetFiles, path: str) -> str:
    relative = path[len(files.root):].strip("/") if files.root and path.startswith(files.root) else path
    stem = relative.removesuffix(".parquet").replace("/", "__")
    digest = hashlib.sha256(files.display(path).encode()).hexdigest()[:8]
    return f"{_UNSAFE.sub('_', stem)[-80:]}-{digest}"


def _bundle_contract(scorer) -> Contract:
    path = scorer.bundle.contract_path
    if path is None:
        raise ArtifactError(f"{scorer.bundle.directory}: the bundle has no contract.yaml; scoring checks input against it")
    return load_contract(path)


def scoring_contract(contract: Contract, needed: list[str]) -> tuple[Contract, tuple[str, ...]]:
    """The bundle contract cut to the columns scoring reads, all nullable, for the file-level check
    (names, types, readable, not empty); and the columns the contract declares non-nullable, for the
    row-level check: a null there makes a bad row to set aside, not a reason to refuse the file."""
    known = {c.name: c for c in contract.columns}
    missing = [name for name in needed if name not in known]
    if missing:
        raise ConfigError(f"columns {missing}: not in the bundle's contract {contract.name!r}; cannot check their type")
    # A pii column is read only when the user lists it as passthrough (then it is copied on purpose) or
    # a salted hash_bucket reads it (training allows nothing else); it never reaches the output otherwise.
    columns = [ColumnSpec(**{**known[name].model_dump(), "nullable": True}) for name in needed]
    subset = Contract(name=contract.name, version=contract.version, extra_columns="ignore", columns=columns)
    non_nullable = tuple(name for name in needed if not known[name].nullable)
    return subset, non_nullable


def _check_files(contract: Contract, source) -> None:
    report = check_dataset(contract, source)
    if not report.ok:
        lines = "\n  ".join(str(p) for p in report.problems)
        raise ContractError(f"input does not match the model's contract; nothing was written\n  {lines}", report.problems)


def _tasks_of_file(files: ParquetFiles, path: str, rows_per_task: int) -> list[ScoreTask]:
    metadata = open_parquet(files, path).metadata
    key, partitions = _file_key(files, path), partition_values(path)
    tasks, first, rows = [], 0, 0
    for group in range(metadata.num_row_groups):
        rows += metadata.row_group(group).num_rows
        if rows >= rows_per_task or group == metadata.num_row_groups - 1:
            name = f"{key}-g{first:05d}"
            tasks.append(ScoreTask(name, path, files.display(path), first, group + 1, rows, partitions))
            first, rows = group + 1, 0
    return tasks


def _stamp(files: ParquetFiles, path: str) -> dict:
    info = files.filesystem.get_file_info(path)
    return {"path": files.display(path), "size": info.size, "mtime_ns": info.mtime_ns if info.mtime else None}


def plan_run(cfg, scorer) -> RunPlan:
    """Resolve the input, check it against the bundle's contract and cut it into tasks.

    Raises ContractError (every problem, with file and column) or DataError before any output exists.
    """
    bundle_contract = _bundle_contract(scorer)
    files = list_parquet_files(cfg.input, cfg.where, bundle_contract.arrow_schema())
    keep = [cfg.id_column, *cfg.passthrough]
    needed = list(dict.fromkeys([*keep, *scorer.input_columns]))
    contract, non_nullable = scoring_contract(bundle_contract, needed)
    _check_files(contract, files)
    tasks = [task for path in files.paths for task in _tasks_of_file(files, path, cfg.batch.rows_per_task)]
    hive = {key for task in tasks for key in task.partitions}
    read_columns = [name for name in needed if name not in hive]
    if not tasks:
        raise DataError(f"{cfg.input}{_where_text(cfg.where)}: no row groups to score")
    return RunPlan(
        files=files,
        contract=contract,
        checks=RowChecks(non_nullable=non_nullable, model_inputs=tuple(scorer.input_columns)),
        read_columns=read_columns,
        keep_columns=keep,
        tasks=tasks,
        rows=sum(task.rows for task in tasks),
        file_stamps=[_stamp(files, path) for path in files.paths],
    )


def _where_text(where: dict) -> str:
    return " where " + ", ".join(f"{k}={v}" for k, v in where.items()) if where else ""


def run_key(cfg, plan: RunPlan, model_sha256: str) -> str:
    """What makes two attempts the same run: their staging ledgers are then interchangeable."""
    identity = {
        "plan_version": PLAN_VERSION,
        "run_date": cfg.run_date.isoformat(),
        "model_sha256": model_sha256,
        "files": plan.file_stamps,  # a --where selection changes the files, so the run
        "keep": plan.keep_columns,
        "rows": cfg.batch.rows,
        "rows_per_task": cfg.batch.rows_per_task,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
