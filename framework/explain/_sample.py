"""A seeded sample of a Parquet table read with Ray Data: only the row groups that hold picked rows
are read, by Ray tasks, so the table may be far larger than one machine.

The rows picked are exactly those of `framework.monitor.check.seeded_sample(read_table(files), rows,
seed)`, the sample training explains its model on: row positions come from the files' metadata in
`read_table`'s order (sorted files, row groups in order), and the picked rows come back in that order.

Example:
    >>> sample = read_sample(list_parquet_files("data/valid"), ["I1", "C1", "label"], rows=50_000, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from framework.data.parquet_io import ParquetFiles, open_parquet, read_file
from framework.errors import DataError

__all__ = ["picked_rows", "sample_plan", "read_picked", "read_sample"]

ROW_COLUMN = "__raylane_row"  # the picked row's position in the whole table, for putting rows back in order
READ_TASK_CPUS = 0.5


def picked_rows(total: int, rows: int, seed: int) -> np.ndarray:
    """Sorted positions of the sampled rows: all of them when there are `rows` or fewer (the same
    draw as `seeded_sample`)."""
    if total <= rows:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, rows, replace=False))


def _file_plan(path: str, group_sizes: np.ndarray, first: int, picked: np.ndarray) -> dict:
    """The row groups of one file that hold picked rows, and each picked row's place in their concatenation."""
    local = picked - first
    starts = np.concatenate([[0], np.cumsum(group_sizes)[:-1]])
    group = np.searchsorted(starts, local, side="right") - 1
    kept = np.unique(group)
    kept_start = np.concatenate([[0], np.cumsum(group_sizes[kept])[:-1]])
    position = kept_start[np.searchsorted(kept, group)] + local - starts[group]
    return {"path": path, "row_groups": kept.tolist(), "positions": position.tolist(), "rows": picked.tolist()}


def sample_plan(files: ParquetFiles, rows: int, seed: int) -> list[dict]:
    """One entry per file holding picked rows: its path, the row groups to read, the picked rows'
    positions among them and in the whole table."""
    sizes = [np.array([meta.row_group(i).num_rows for i in range(meta.num_row_groups)], dtype=np.int64)
             for meta in (open_parquet(files, path).metadata for path in files.paths)]
    totals = np.array([int(s.sum()) for s in sizes], dtype=np.int64)
    if not totals.sum():
        raise DataError(f"{files.root or 'input'}: the data holds no rows to explain")
    picked = picked_rows(int(totals.sum()), rows, seed)
    firsts = np.concatenate([[0], np.cumsum(totals)[:-1]])
    plan = []
    for path, group_sizes, first, total in zip(files.paths, sizes, firsts, totals):
        mine = picked[(picked >= first) & (picked < first + total)]
        if mine.size:
            plan.append(_file_plan(path, group_sizes, int(first), mine))
    return plan


def read_picked(entry: dict, files: ParquetFiles, columns: list[str]) -> pa.Table:
    """The picked rows of one plan entry, with their positions in ROW_COLUMN."""
    table = read_file(files, entry["path"], columns, row_groups=entry["row_groups"])
    table = table.take(pa.array(entry["positions"], pa.int64()))
    return table.append_column(ROW_COLUMN, pa.array(entry["rows"], pa.int64()))


def _read_batch(batch: pa.Table, files: ParquetFiles, columns: list[str]) -> pa.Table:
    return pa.concat_tables([read_picked(entry, files, columns) for entry in batch.to_pylist()])


def read_sample(files: ParquetFiles, columns: list[str], rows: int, seed: int) -> pa.Table:
    """Read the sample with Ray Data (one read task per file holding picked rows), rows in table order."""
    import ray

    plan = sample_plan(files, rows, seed)
    dataset = ray.data.from_items(plan, override_num_blocks=len(plan))
    read = dataset.map_batches(_read_batch, batch_size=1, batch_format="pyarrow", num_cpus=READ_TASK_CPUS,
                               fn_kwargs={"files": files, "columns": list(columns)})
    try:
        table = pa.concat_tables(ray.get(read.to_arrow_refs()), promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise DataError(f"{files.root or 'input'}: the files' schemas do not agree ({str(error).splitlines()[0]})") from None
    return table.sort_by(ROW_COLUMN).drop_columns([ROW_COLUMN])
