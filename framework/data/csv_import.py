"""Import CSV or TSV (plain or compressed) into Parquet typed by a contract: `raylane data import`.

The text is streamed block by block (never a whole file in memory), typed by the contract
(framework/data/_csv_rows.py says how rows are read, typed and rejected), and written as Parquet,
hive-partitioned by one column when asked (_parquet_sink.py). The output is published atomically
(_import_publish.py) with the contract beside it as `contract.yaml`, so `data check`, `features` and
`train` can read it at once.

- Rejected rows go to `OUT/_rejected/rejected-NNNNN.jsonl` (one file per source file with rejects),
  one JSON object per line: `source`, `line` (1-based, the header and blank lines counted),
  `reason` and `text` (the line itself for a wrong field count, else its fields joined by the
  delimiter). JSON Lines, to be read with `head` or `jq` as much as with pandas.
- When more than `max_reject_fraction` of the rows are rejected nothing is published: the staging
  directory is left beside OUT for inspection (its `_rejected/` says why), a previous OUT is left as
  it was, and RejectLimitError says the counts. The next import removes it.
- A contract column with role `id` that the source lacks is made: `file_index << 40 | line`, where
  file_index is the file's place among the sources in path order. It is unique and stable while the
  set of source files stays the same.

Example:
    >>> request = ImportRequest(source="raw/day_*.gz", contract="jobs/configs/criteo_tsv_contract.yaml",
    ...                         out="data/criteo", format="tsv", header=False)
    >>> result = import_csv(request)
    >>> print(result.summary())
    imported 45,840,617 rows (0 rejected) from 24 file(s) into 44 Parquet file(s) in data/criteo
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from framework.data._csv_rows import CsvFormat, CsvLayout, peek_columns, plan_layout, read_rows
from framework.data._csv_source import CsvSource, list_csv_sources, open_source
from framework.data._import_publish import prepare_staging, publish
from framework.data._parquet_sink import ParquetSink, WrittenFile
from framework.data.contract import Contract, load_contract
from framework.errors import ConfigError, DataError

__all__ = ["ImportRequest", "ImportProgress", "ImportResult", "RejectLimitError", "import_csv", "REJECTED_DIR"]

REJECTED_DIR = "_rejected"
CONTRACT_FILE = "contract.yaml"
FORMATS = {"csv": CsvFormat(delimiter=",", quoting=True), "tsv": CsvFormat(delimiter="\t", quoting=False)}


class RejectLimitError(DataError):
    """More rows were rejected than `max_reject_fraction` allows; nothing was published."""

    exit_code = 1


@dataclass(frozen=True)
class ImportRequest:
    """What to import. `format`: csv (`,`, `"` quotes fields) or tsv (tab, no quoting);
    `delimiter` overrides the format's; `header`: whether the first line names the columns."""

    source: str | Sequence[str]
    contract: str
    out: str
    format: str = "csv"
    header: bool = True
    delimiter: str | None = None
    partition_by: str | None = None
    max_reject_fraction: float = 0.001
    force: bool = False

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ConfigError(f"format: got {self.format!r}; expected one of {sorted(FORMATS)}")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ConfigError(f"delimiter: got {self.delimiter!r}; expected one character (e.g. ';', or '\\t' for a tab)")
        if self.delimiter is not None and self.delimiter in "\r\n\"":
            raise ConfigError(f"delimiter: {self.delimiter!r} cannot separate fields; choose another character")
        if not 0.0 <= self.max_reject_fraction <= 1.0:
            raise ConfigError(f"max_reject_fraction: got {self.max_reject_fraction}; expected a fraction from 0 to 1")

    @property
    def csv_format(self) -> CsvFormat:
        base = FORMATS[self.format]
        return CsvFormat(self.delimiter or base.delimiter, self.header, base.quoting)


@dataclass(frozen=True)
class ImportProgress:
    bytes_read: int  # of the source files as stored (compressed bytes for .gz)
    bytes_total: int
    rows: int
    rejected: int


@dataclass(frozen=True)
class ImportResult:
    out: str
    rows: int
    rejected: int
    blank: int
    sources: int
    files: list[WrittenFile]
    seconds: float
    reasons: dict = field(default_factory=dict)  # reason → rows, most frequent first

    def summary(self) -> str:
        rejected = f"{self.rejected:,} rejected, in {self.out}/{REJECTED_DIR}/" if self.rejected else "0 rejected"
        blank = f"; {self.blank:,} blank line(s) skipped" if self.blank else ""
        return (f"imported {self.rows:,} rows ({rejected}{blank}) from {self.sources} file(s) into "
                f"{len(self.files)} Parquet file(s) in {self.out}")


class _RejectLog:
    """JSON Lines of rejected rows, one file per source file that has any, and counts per reason."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.reasons: Counter = Counter()
        self._handles: dict[int, object] = {}

    def write(self, file_index: int, source: str, rejects: list[dict]) -> None:
        if not rejects:
            return
        if file_index not in self._handles:
            self.directory.mkdir(exist_ok=True)
            self._handles[file_index] = open(self.directory / f"rejected-{file_index:05d}.jsonl", "w", encoding="utf-8")
        lines = [json.dumps({"source": source, **r}, ensure_ascii=False) + "\n" for r in rejects]
        self._handles[file_index].writelines(lines)
        self.reasons.update(r["reason"] for r in rejects)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()

    @property
    def count(self) -> int:
        return sum(self.reasons.values())


def _check_request(request: ImportRequest, contract: Contract) -> None:
    if request.partition_by is not None and request.partition_by not in contract.names():
        raise ConfigError(f"--partition-by {request.partition_by!r}: not a column of the contract; it has {contract.names()}")


def _layouts(sources: list[CsvSource], contract: Contract, csv_format: CsvFormat, partition_by: str | None) -> list[CsvLayout]:
    """Every file's layout before anything is written, so a bad file fails the import at once."""
    layouts = []
    for source in sources:
        raw, stream = open_source(source)
        with raw, stream:
            layouts.append(plan_layout(contract, peek_columns(stream, csv_format, source.display), csv_format, source.display))
    made = {layout.generated_id for layout in layouts}
    if len(made) > 1:
        raise DataError(f"the id column {contract.role_of('id')!r} is in some source files and not in others; "
                        "an import makes it for all files or for none")
    if partition_by is not None and partition_by in made:
        raise ConfigError(f"--partition-by {partition_by!r}: the import makes that id column; partition by a column of the data")
    return layouts


@dataclass
class _Run:
    """One import being written into `staging`: the sink, the reject log and the counts so far."""

    request: ImportRequest
    contract: Contract
    sink: ParquetSink
    rejects: _RejectLog
    bytes_total: int
    progress: Callable[[ImportProgress], None] | None
    rows: int = 0
    blank: int = 0
    bytes_done: int = 0

    def import_file(self, index: int, source: CsvSource, layout: CsvLayout) -> None:
        raw, stream = open_source(source)
        with raw, stream:
            for block in read_rows(stream, self.contract, layout, self.request.csv_format, source.display, index):
                self.sink.write(block.rows)
                self.rejects.write(index, source.display, block.rejects)
                self.rows += block.rows.num_rows
                self.blank += block.blank
                if self.progress:
                    self.progress(ImportProgress(self.bytes_done + raw.tell(), self.bytes_total, self.rows, self.rejects.count))
        self.bytes_done += source.size

    def write_all(self, sources: list[CsvSource], layouts: list[CsvLayout]) -> list[WrittenFile]:
        try:
            for index, (source, layout) in enumerate(zip(sources, layouts)):
                self.import_file(index, source, layout)
            return self.sink.close()
        finally:
            self.rejects.close()


def _check_rejects(request: ImportRequest, rows: int, rejects: _RejectLog, staging: Path) -> None:
    total = rows + rejects.count
    fraction = rejects.count / total
    if fraction > request.max_reject_fraction:
        top = ", ".join(f"{reason}: {count:,}" for reason, count in rejects.reasons.most_common(5))
        raise RejectLimitError(
            f"{rejects.count:,} of {total:,} rows rejected ({fraction:.4%}), above --max-reject-fraction "
            f"{request.max_reject_fraction:g}; nothing was published. Reasons: {top}. The rejected rows are in "
            f"{staging / REJECTED_DIR}/ (the staging directory is kept for inspection until the next import)")


def _manifest(request: ImportRequest, contract: Contract, sources: list[CsvSource], result: ImportResult) -> dict:
    return {
        "format": "raylane-import", "format_version": 1, "contract": contract.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sources": [s.display for s in sources], "csv_format": request.format, "header": request.header,
        "delimiter": request.csv_format.delimiter, "partition_by": request.partition_by,
        "rows": result.rows, "rejected": result.rejected, "blank": result.blank, "reasons": result.reasons,
        "files": [{"path": f.path, "rows": f.rows} for f in result.files],
    }


def import_csv(request: ImportRequest, progress: Callable[[ImportProgress], None] | None = None) -> ImportResult:
    """Import `request.source` into `request.out` (replaced atomically); see the module docstring.

    `progress(ImportProgress)` is called after each block. Raises RejectLimitError when too many rows
    are rejected (nothing published), DataError/ConfigError for sources that do not fit the contract.
    """
    started = time.perf_counter()
    contract = load_contract(request.contract)
    _check_request(request, contract)
    sources = list_csv_sources(request.source)
    layouts = _layouts(sources, contract, request.csv_format, request.partition_by)
    out = Path(request.out).absolute()
    staging = prepare_staging(out, request.force)
    run = _Run(request, contract, ParquetSink(staging, contract.arrow_schema(), request.partition_by),
               _RejectLog(staging / REJECTED_DIR), sum(s.size for s in sources), progress)
    try:
        files = run.write_all(sources, layouts)
        if run.rows + run.rejects.count == 0:
            raise DataError(f"{', '.join(s.display for s in sources)}: no data rows to import")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _check_rejects(request, run.rows, run.rejects, staging)  # above the limit, the staging stays for inspection
    shutil.copyfile(request.contract, staging / CONTRACT_FILE)
    result = ImportResult(str(out), run.rows, run.rejects.count, run.blank, len(sources), files,
                          time.perf_counter() - started, dict(run.rejects.reasons.most_common()))
    publish(staging, out, _manifest(request, contract, sources, result))
    return result
