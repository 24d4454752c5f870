"""Infer a contract from existing Parquet, for a person to review: `raylane data contract`.

What it reads, all through parquet_io: every file's footer (schema, row counts, null counts), the
`key=value` directories of every path (partition columns), and the first row group of the first
files for a sample of string values (personal-data detection, framework/data/pii.py).

- Types: each column's Arrow type, named as contracts name them. Files that disagree on a column's
  type are an error naming the files and types: `data check` compares each file's exact type, so no
  common type, however lossless, would let the same data pass.
- Nullability: `nullable: false` only where every file's footer statistics count 0 nulls (a file
  without statistics has that column read and counted), so the data passes `data check` as it is.
- Partition columns: typed from their values: date32 when every value is a date (YYYY-MM-DD),
  int64 when every value is an integer, else string; nullable only when a directory is
  `key=__HIVE_DEFAULT_PARTITION__`.
- Roles: `label` and `id` as given, `pii` where the name or the sampled values look like personal
  data (with the reason, for the YAML comment), `feature` for the rest.

Example:
    >>> inferred = infer_contract("data/events", label="clicked", id_column="event_id")
    >>> write_contract(inferred, "contract.yaml")
    >>> inferred.pii
    {'customer_email': '97% of 1,000 sampled values look like email addresses'}
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from framework.data.check import _null_count
from framework.data.contract import ColumnSpec, Contract, load_contract, parse_arrow_type, type_name
from framework.data.contract_yaml import contract_to_yaml
from framework.data.parquet_io import HIVE_NULL, ParquetFiles, list_parquet_files, open_parquet, partition_values, read_file
from framework.data.pii import detect_pii
from framework.errors import DataError

__all__ = ["InferredContract", "infer_contract", "refuse_existing", "write_contract", "SAMPLE_ROWS"]

SAMPLE_ROWS = 1_000  # string values sampled per column for personal-data detection


@dataclass(frozen=True)
class InferredContract:
    """The inferred contract, why each `pii` column is one, and what it was inferred from."""

    contract: Contract
    source: str
    files: int
    rows: int
    pii: dict[str, str] = field(default_factory=dict)  # column → reason


@dataclass
class _Column:
    """What the footers say about one stored column."""

    types: dict = field(default_factory=lambda: defaultdict(list))  # Arrow type → files
    files: int = 0
    nullable: bool = False


def _show(files: ParquetFiles, paths: list[str]) -> str:
    more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
    return files.display(paths[0]) + more


def _read_footers(files: ParquetFiles) -> tuple[dict[str, _Column], int]:
    columns: dict[str, _Column] = {}
    rows = 0
    for path in files.paths:
        parquet = open_parquet(files, path)
        rows += parquet.metadata.num_rows
        index_of = {parquet.metadata.schema.column(i).path: i for i in range(len(parquet.metadata.schema))}
        for found in parquet.schema_arrow:
            column = columns.setdefault(found.name, _Column())
            column.types[found.type].append(path)
            column.files += 1
            if not column.nullable and found.name in index_of:  # once nullable, no need to count again
                column.nullable = _null_count(parquet, index_of[found.name], found.name) > 0
    return columns, rows


def _contract_type(files: ParquetFiles, name: str, column: _Column) -> str:
    if len(column.types) > 1:
        found = "; ".join(f"{type_name(t)} in {_show(files, paths)}" for t, paths in column.types.items())
        raise DataError(f"column {name!r} has different types in different files: {found}. `data check` compares "
                        "each file's exact type, so rewrite the odd files with one type, or point --data at files that agree")
    (data_type, paths), = column.types.items()
    try:
        expressible = parse_arrow_type(type_name(data_type)) == data_type
    except ValueError:
        expressible = False
    if not expressible:
        raise DataError(f"column {name!r} is {data_type} in {_show(files, paths)}, which a contract cannot name; "
                        "write it as a plain type (e.g. string for a dictionary column, timestamp without a time zone)")
    return type_name(data_type)


def _partition_type(raw_values: list[str]) -> str:
    """date32 when every value casts to a date, int64 when every value casts to an integer, else string
    (with the same casts `data check` applies to partition values)."""
    values = pa.array([v for v in raw_values if v != HIVE_NULL], pa.string())
    for candidate in ("date32", "int64"):
        try:
            pc.cast(values, parse_arrow_type(candidate))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return candidate if len(values) else "string"
    return "string"


def _partition_specs(files: ParquetFiles, stored: dict[str, _Column]) -> list[ColumnSpec]:
    specs = []
    for key in files.partition_keys():
        if key in stored and stored[key].files == len(files.paths):
            continue  # every file holds the column itself, and readers use the stored values
        if key in stored:
            holders = [p for paths in stored[key].types.values() for p in paths]
            raise DataError(f"{key!r} is a column of {_show(files, holders)} but only a partition directory of other "
                            "files; write it the same way in every file")
        unkeyed = [p for p in files.paths if key not in partition_values(p)]
        if unkeyed:
            raise DataError(f"partition key {key!r} is not in the path of {_show(files, unkeyed)}; "
                            "every file must be under a directory for each partition key")
        values = [partition_values(p)[key] for p in files.paths]
        specs.append(ColumnSpec(name=key, type=_partition_type(values), nullable=HIVE_NULL in values))
    return specs


def _stored_specs(files: ParquetFiles, stored: dict[str, _Column]) -> list[ColumnSpec]:
    specs = []
    for name, column in stored.items():
        if column.files < len(files.paths):
            holders = {p for paths in column.types.values() for p in paths}
            lacking = [p for p in files.paths if p not in holders]
            if name in files.partition_keys():
                continue  # both stored and a partition key somewhere: _partition_specs names the files
            raise DataError(f"column {name!r} is in {column.files} of {len(files.paths)} files; missing from "
                            f"{_show(files, lacking)}. A contract column must be in every file")
        specs.append(ColumnSpec(name=name, type=_contract_type(files, name, column), nullable=column.nullable))
    return specs


def _sample_strings(files: ParquetFiles, specs: list[ColumnSpec], stored: dict, rows: int) -> dict[str, pa.ChunkedArray]:
    """Up to `rows` rows of the stored string columns: the first row group of the first files."""
    names = [s.name for s in specs
             if s.name in stored and (pa.types.is_string(s.arrow_type) or pa.types.is_large_string(s.arrow_type))]
    pieces, taken = [], 0
    for path in files.paths:
        if not names or taken >= rows:
            break
        if open_parquet(files, path).metadata.num_row_groups == 0:
            continue
        piece = read_file(files, path, names, row_groups=[0]).slice(0, rows - taken)
        pieces.append(piece)
        taken += piece.num_rows
    if not pieces:
        return {}
    table = pa.concat_tables(pieces)
    return {name: table[name] for name in names}


def _assign_roles(specs: list[ColumnSpec], roles: dict[str, str], samples: dict) -> tuple[list[ColumnSpec], dict]:
    names = [s.name for s in specs]
    for role, name in roles.items():
        if name not in names:
            raise DataError(f"--{role} {name!r}: no such column; the data has {names}")
    pii, result = {}, []
    for spec in specs:
        given = next((role for role, name in roles.items() if name == spec.name), None)
        finding = None if given else detect_pii(spec.name, samples.get(spec.name))
        if finding:
            pii[spec.name] = finding.reason
        result.append(spec.model_copy(update={"role": given or ("pii" if finding else "feature")}))
    return result, pii


def _default_name(files: ParquetFiles) -> str:
    return os.path.basename(files.root.rstrip("/")) or "dataset"


def infer_contract(source, label: str | None = None, id_column: str | None = None, name: str | None = None,
                   sample_rows: int = SAMPLE_ROWS) -> InferredContract:
    """Infer a contract from Parquet `source` (file, directory, glob or list; hive partitions too).

    Raises DataError naming the files when they disagree on a column, and naming the column when
    `label` or `id_column` is not one.
    """
    files = list_parquet_files(source)
    stored, rows = _read_footers(files)
    specs = _stored_specs(files, stored) + _partition_specs(files, stored)
    samples = _sample_strings(files, specs, stored, sample_rows)
    roles = {role: column for role, column in (("label", label), ("id", id_column)) if column is not None}
    specs, pii = _assign_roles(specs, roles, samples)
    contract = Contract(name=name or _default_name(files), columns=specs)
    shown = source if isinstance(source, (str, os.PathLike)) else ", ".join(map(str, source))
    return InferredContract(contract, str(shown), len(files.paths), rows, pii)


def _header(inferred: InferredContract) -> list[str]:
    return [
        f"Inferred by `raylane data contract` from {inferred.source}: {inferred.files:,} file(s), {inferred.rows:,} rows.",
        "Review before use. role: feature | label | id | passthrough (kept, not a feature) | pii (kept out of",
        "training) | ignore. A pii guess says why on its line: change the role where it is wrong.",
        "nullable: false where no file holds a null today; set true if later data may have nulls.",
    ]


def refuse_existing(out: str | os.PathLike, force: bool) -> Path:
    """`out` as a Path; DataError naming it when it exists and `force` is not given."""
    out = Path(out)
    if (out.exists() or out.is_symlink()) and not force:
        raise DataError(f"{out}: already exists; pass --force to overwrite it")
    return out


def write_contract(inferred: InferredContract, out: str | os.PathLike, force: bool = False) -> Path:
    """Write the inferred contract as commented YAML; refuses an existing `out` unless `force`.

    The text is read back with `load_contract` before it replaces `out`, so what is written is
    exactly the inferred contract."""
    out = refuse_existing(out, force)
    comments = {name: f"pii: {reason}" for name, reason in inferred.pii.items()}
    text = contract_to_yaml(inferred.contract, comments, _header(inferred))
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    try:
        if load_contract(temporary) != inferred.contract:
            raise RuntimeError(f"the contract YAML written for {out} does not read back equal; this is a bug")
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return out
