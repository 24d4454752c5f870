"""The one place raylane reads Parquet: local paths or any filesystem pyarrow supports.

A source is a file, a directory (searched recursively), a glob (`data/train/*.parquet`,
`s3://bucket/day=*/part-*.parquet`), a list of those, or an already resolved `ParquetFiles`.

Hive partitions: every `key=value` directory in a file's path is a column of its rows, wherever it
stands in the path. So pointing at one partition (`t/event_date=2026-01-03`, or a glob inside it)
gives the same rows and columns as reading the table `t` filtered to it, or as `where={"event_date":
"2026-01-03"}` on `t`. Values are typed by the caller (the contract's types); a value that does not
parse names its path.

Example:
    >>> files = list_parquet_files("data/train", where={"event_date": "2026-01-03"})
    >>> table = read_table(files, columns=["I1", "event_date"], partition_types=contract.arrow_schema())
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from framework.data._paths import GLOB_CHARS, glob_root, hidden_directory, split_filesystem
from framework.errors import ConfigError, DataError

__all__ = [
    "HIVE_NULL", "ParquetFiles", "list_parquet_files", "parse_where", "partition_values", "partition_array",
    "open_parquet", "read_file", "read_table", "read_dataset", "available_columns", "with_partitions",
]

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # how Hive names the partition directory of a null value
PATH_COLUMN = "__raylane_path"  # Ray Data's file path column while partition columns are added

PartitionTypes = Mapping[str, pa.DataType] | pa.Schema | None


@dataclass(frozen=True)
class ParquetFiles:
    """Resolved Parquet files on one filesystem. `paths` are in the filesystem's own form."""

    filesystem: pafs.FileSystem
    paths: list[str]
    root: str  # the directory the source names (output names are made relative to it)
    where: dict = field(default_factory=dict)  # the partition filter the files were selected by
    types: dict = field(default_factory=dict)  # partition column → Arrow type (string when absent)

    def display(self, path: str) -> str:
        """The path as the user would recognise it (with its URI scheme for remote stores)."""
        if isinstance(self.filesystem, pafs.LocalFileSystem):
            return path
        return f"{self.filesystem.type_name}://{path}"

    def partition_keys(self) -> list[str]:
        """Every hive key of these files, in path order."""
        keys: dict[str, None] = {}
        for path in self.paths:
            keys.update(dict.fromkeys(partition_values(path)))
        return list(keys)


def _is_data_file(path: str, root: str) -> bool:
    """Not data: names starting with `_` or `.`, files under such a directory below `root`, and contract
    and manifest files."""
    name = path.rsplit("/", 1)[-1]
    return (not hidden_directory(path, root) and not name.startswith(("_", "."))
            and not name.endswith((".yaml", ".yml", ".json", ".crc")))


def _resolve_one(source: str) -> ParquetFiles:
    filesystem, path = split_filesystem(source)
    if GLOB_CHARS & set(path):
        root = glob_root(path)
        infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        paths = sorted(i.path for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, path))
        return ParquetFiles(filesystem, [p for p in paths if _is_data_file(p, root)], root)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise DataError(f"{source}: no such file or directory")
    if info.type == pafs.FileType.File:
        return ParquetFiles(filesystem, [path], os.path.dirname(path))
    infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    paths = sorted(i.path for i in infos if i.type == pafs.FileType.File and _is_data_file(i.path, path))
    return ParquetFiles(filesystem, paths, path)


def partition_values(path: str) -> dict[str, str]:
    """Hive partition keys of every `key=value` directory in the file's path (URI-decoded), wherever
    they stand: one partition directory then reads like the table filtered to it."""
    values = {}
    for part in path.split("/")[:-1]:
        key, sep, value = part.partition("=")
        if sep and key:
            values[unquote(key)] = unquote(value)
    return values


def parse_where(items: Iterable[str] | Mapping[str, str] | None, option: str = "--where") -> dict[str, str]:
    """`["event_date=2026-01-03", ...]` (the CLI's repeated --where) → {"event_date": "2026-01-03"}."""
    if not items:
        return {}
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    where = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {item!r}: expected KEY=VALUE, e.g. event_date=2026-01-03")
        if key.strip() in where and where[key.strip()] != value.strip():
            raise ConfigError(f"{option}: {key.strip()!r} given twice ({where[key.strip()]!r} and {value.strip()!r})")
        where[key.strip()] = value.strip()
    return where


def _types(partition_types: PartitionTypes) -> dict[str, pa.DataType]:
    if partition_types is None:
        return {}
    if isinstance(partition_types, pa.Schema):
        return {f.name: f.type for f in partition_types}
    return dict(partition_types)


def _typed_value(raw: str | None, data_type: pa.DataType, name: str, where: str) -> pa.Scalar:
    value = None if raw == HIVE_NULL else raw
    try:
        return pa.scalar(value, pa.string()).cast(data_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise DataError(f"{where}: partition {name}={raw!r} is not a valid {data_type}") from None


def partition_array(files: ParquetFiles, path: str, name: str, rows: int) -> pa.Array:
    """The partition column `name` of one file's `rows` rows, typed (string where no type is given)."""
    raw = partition_values(path)[name]
    data_type = files.types.get(name, pa.string())
    return pa.repeat(_typed_value(raw, data_type, name, files.display(path)), rows)


def _same_value(found: str, wanted: str, data_type: pa.DataType | None, key: str) -> bool:
    """Typed comparison where the type is known (`hour=3` matches `hour=03`); a directory whose value
    does not parse is simply not selected (`data check` reports it)."""
    if data_type is None or HIVE_NULL in (found, wanted):
        return found == wanted
    expected = _typed_value(wanted, data_type, key, f"where {key}={wanted}")
    try:
        return _typed_value(found, data_type, key, "") == expected
    except DataError:
        return False


def _matches(path: str, where: dict[str, str], types: dict[str, pa.DataType]) -> bool:
    values = partition_values(path)
    return all(_same_value(values[key], wanted, types.get(key), key) for key, wanted in where.items())


def _select(files: ParquetFiles, where: dict[str, str], sources: list) -> ParquetFiles:
    if not where:
        return files
    types = files.types
    keys = files.partition_keys()
    unknown = [key for key in where if key not in keys]
    if unknown:
        found = f"its partition keys are {keys}" if keys else "it has no key=value partition directories"
        raise ConfigError(f"where {unknown}: not a partition key of {', '.join(map(str, sources))}; {found}")
    unkeyed = [path for path in files.paths if not set(where) <= set(partition_values(path))]
    if unkeyed:
        raise DataError(f"{files.display(unkeyed[0])}: not under a {'/'.join(where)} partition, so where cannot select it")
    paths = [path for path in files.paths if _matches(path, where, types)]
    if not paths:
        seen = sorted({partition_values(p)[k] for p in files.paths for k in where})
        wanted = ", ".join(f"{k}={v}" for k, v in where.items())
        raise DataError(f"{', '.join(map(str, sources))}: no partition with {wanted}; found values {seen[:10]}")
    return ParquetFiles(files.filesystem, paths, files.root, {**files.where, **where}, types)


def list_parquet_files(source, where: Iterable[str] | Mapping[str, str] | None = None,
                       partition_types: PartitionTypes = None) -> ParquetFiles:
    """Resolve a path, directory, glob or list of them into a sorted list of data files.

    `where` keeps the files of one partition (`{"event_date": "2026-01-03"}`); only partition keys
    may be named. Values compare as `partition_types` types them (`hour=3` matches `hour=03`).
    Raises DataError when nothing matches, naming the source.
    """
    where = parse_where(where)
    if isinstance(source, ParquetFiles):
        typed = source if partition_types is None else replace(source, types={**source.types, **_types(partition_types)})
        return _select(typed, where, [source.root])
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise DataError("no Parquet source given: expected a file, directory or glob")
    resolved = [_resolve_one(os.fspath(s)) for s in sources]
    paths = sorted({p for r in resolved for p in r.paths})
    if not paths:
        raise DataError(f"{', '.join(map(str, sources))}: no Parquet files found")
    root = resolved[0].root if len(resolved) == 1 else ""
    return _select(ParquetFiles(resolved[0].filesystem, paths, root, {}, _types(partition_types)), where, sources)


def open_parquet(files: ParquetFiles, path: str) -> pq.ParquetFile:
    """Open one file for metadata or streaming reads (raises pyarrow's own errors)."""
    return pq.ParquetFile(files.filesystem.open_input_file(path))


def with_partitions(table: pa.Table, files: ParquetFiles, path: str, columns: Sequence[str] | None) -> pa.Table:
    """`table` (rows of the file `path`) with the partition columns wanted by `columns` (all when None)
    that the file does not hold itself, typed."""
    values = partition_values(path)
    wanted = list(values) if columns is None else [c for c in columns if c in values]
    for name in wanted:
        if name not in table.column_names:
            table = table.append_column(name, partition_array(files, path, name, table.num_rows))
    return table.select(list(columns)) if columns is not None else table


def read_file(files: ParquetFiles, path: str, columns: Sequence[str] | None = None,
              row_groups: Sequence[int] | None = None) -> pa.Table:
    """One file's rows (or row groups), its partition columns included."""
    parquet = open_parquet(files, path)
    stored = parquet.schema_arrow.names
    read = None if columns is None else [c for c in columns if c in stored]
    missing = [] if columns is None else [c for c in columns if c not in stored and c not in partition_values(path)]
    if missing:
        raise DataError(f"{files.display(path)}: column(s) {missing} are missing; found {stored[:12]}")
    table = parquet.read_row_groups(row_groups, columns=read) if row_groups is not None else parquet.read(columns=read)
    return with_partitions(table, files, path, columns)


def read_table(source, columns: Iterable[str] | None = None, partition_types: PartitionTypes = None,
               where: Iterable[str] | Mapping[str, str] | None = None) -> pa.Table:
    """Read Parquet into one Arrow table, hive partition columns included.

    `partition_types` types the partition columns (strings by default), e.g. date32 for
    `event_date=2026-01-01/` directories; pass the contract's `arrow_schema()`.
    """
    files = list_parquet_files(source, where, partition_types)
    columns = list(columns) if columns is not None else None
    tables = [read_file(files, path, columns) for path in files.paths]
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise DataError(f"{files.root or 'input'}: the files' schemas do not agree ({str(error).splitlines()[0]})") from None


def available_columns(files: ParquetFiles) -> list[str]:
    """Columns a read can ask for: the first file's own and the partition keys."""
    stored = open_parquet(files, files.paths[0]).schema_arrow.names
    return list(dict.fromkeys([*stored, *files.partition_keys()]))


def _add_partitions_to_batch(batch: pa.Table, files: ParquetFiles, columns: list[str]) -> pa.Table:
    paths = batch.column(PATH_COLUMN)
    pieces = []
    for path in pc.unique(paths).to_pylist():
        rows = batch.filter(pc.equal(paths, path)).drop_columns([PATH_COLUMN])
        pieces.append(with_partitions(rows, files, path, columns))
    return pa.concat_tables(pieces) if pieces else batch.drop_columns([PATH_COLUMN]).select([])


def read_dataset(source, columns: Sequence[str], partition_types: PartitionTypes = None,
                 where: Iterable[str] | Mapping[str, str] | None = None, num_cpus: float = 1.0,
                 remote_args: Mapping | None = None):
    """The same rows as `read_table`, as a lazily read Ray Dataset (Ray Data's own hive parsing is off:
    partition columns are added here, typed, from each file's path). `remote_args` go to every task
    (a workload's label selector: `framework.workload.Placement.remote_args`)."""
    import ray.data

    files = list_parquet_files(source, where, partition_types)
    stored = set(open_parquet(files, files.paths[0]).schema_arrow.names)
    missing = [c for c in columns if c not in stored and c not in files.partition_keys()]
    if missing:
        raise DataError(f"{files.display(files.paths[0])}: column(s) {missing} are missing; found {sorted(stored)[:12]}")
    from_paths = [c for c in columns if c not in stored]
    dataset = ray.data.read_parquet(files.paths, filesystem=files.filesystem, columns=[c for c in columns if c in stored],
                                    partitioning=None, include_paths=bool(from_paths), num_cpus=num_cpus,
                                    ray_remote_args=dict(remote_args or {}))
    if not from_paths:
        return dataset
    dataset = dataset.rename_columns({"path": PATH_COLUMN})
    listing = ParquetFiles(pafs.LocalFileSystem(), [], files.root, files.where, files.types)  # no file list to ship
    return dataset.map_batches(_add_partitions_to_batch, batch_format="pyarrow", num_cpus=num_cpus,
                               fn_kwargs={"files": listing, "columns": list(columns)}, **(remote_args or {}))
