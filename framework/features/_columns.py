"""The working set of columns that ops read and write during one fit or transform of a batch.

Raw Arrow columns are read into the arrays the kernels take: float64 with NaN for numeric reads,
(int64 values | (offsets, data)) plus a validity mask for categorical reads (views of the Arrow
buffers, made contiguous once per batch).
Continuous ops do not run one at a time: they append steps to a per-column program, and the first
read that needs the result runs every pending program in one `kernels.numeric_chain` call.

Example:
    >>> import pyarrow as pa
    >>> frame = ColumnFrame(pa.table({"x": [1.0, None]}))
    >>> frame.push_step("x", kernels.FILL, 5.0)
    >>> frame.numeric("x").tolist()
    [1.0, 5.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pyarrow as pa

import kernels
from framework.errors import DataError
from framework.features._arrow_arrays import integer_values, is_string_type, numeric_values, plain, validity
from kernels.cpu.strings import string_buffers
from kernels.cpu.threads import parallel_map

__all__ = ["Categorical", "ColumnFrame", "to_host"]


@dataclass(frozen=True)
class Categorical:
    """A categorical column as kernel arrays. `values` is int64[n] or an (offsets, data) pair."""

    values: object
    valid: object  # bool[n], True = present

    @property
    def is_string(self) -> bool:
        return isinstance(self.values, tuple)

    def take(self, rows) -> "Categorical":
        """The given rows (strings re-packed into fresh offsets/data)."""
        if not self.is_string:
            return Categorical(self.values[rows], self.valid[rows])
        xp = kernels.get_array_module(rows)
        offsets, data = self.values
        starts = offsets[rows].astype(np.int64)
        lengths = offsets[rows + 1].astype(np.int64) - starts
        new_offsets = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(lengths)])
        # Packed byte i of row r comes from starts[r] + (i - new_offsets[r]).
        row_of_byte = xp.repeat(xp.arange(len(rows)), lengths)
        source = starts[row_of_byte] + (xp.arange(int(new_offsets[-1])) - new_offsets[row_of_byte])
        return Categorical((new_offsets, data[source]), self.valid[rows])

    def hash(self, seeds):
        """h(v, seed) of every row (invalid rows hash whatever their slot holds)."""
        if self.is_string:
            return kernels.murmur3_strings(*self.values, seeds)
        return kernels.murmur3_int64(self.values, seeds)


def to_host(array) -> np.ndarray:
    """A NumPy copy of a CuPy array, or the NumPy array itself."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)


class ColumnFrame:
    """Columns of one batch: the raw table plus every array an op has written so far."""

    def __init__(
        self,
        table: pa.Table,
        nonfinite: str = "error",
        xp: ModuleType = np,
        id_column: str | None = None,
        out_of_fold: bool = False,
    ):
        self.table = table
        self.nonfinite = nonfinite
        self.xp = xp
        self.id_column = id_column
        self.out_of_fold = out_of_fold  # encode training rows with other folds' statistics
        self.num_rows = table.num_rows
        self._column_names = frozenset(table.column_names)
        self.outputs: dict[str, object] = {}  # name → array; insertion order = order first written
        self._pending: dict[str, tuple[object, list]] = {}  # name → (float64 input, [(op, a, b)])
        self._contiguous: dict[str, pa.Array] = {}  # raw columns with their chunks combined

    # -- reading -------------------------------------------------------------------------------
    def raw(self, name: str) -> pa.Array:
        """The input column as one contiguous Arrow array (combining chunks copies: done once)."""
        if name not in self._contiguous:
            if name not in self._column_names:
                raise DataError(f"column {name!r} is missing: the feature pipeline reads it")
            self._contiguous[name] = plain(self.table.column(name))
        return self._contiguous[name]

    def numeric(self, name: str):
        """The current value of a column as float64 with NaN for missing."""
        if name in self._pending:
            self.flush()
        if name in self.outputs:
            return self.outputs[name].astype(np.float64)
        return self.xp.asarray(numeric_values(self.raw(name), name, self.nonfinite))

    def categorical(self, name: str) -> Categorical:
        """The current value of a column as a Categorical; floating columns are refused."""
        if name in self._pending:
            self.flush()
        xp = self.xp
        if name in self.outputs:
            values = self.outputs[name]
            if values.dtype.kind == "f":
                raise DataError(f"column {name!r}: a categorical op cannot read it: an earlier op made it float32")
            return Categorical(values.astype(np.int64), xp.ones(self.num_rows, dtype=bool))
        array = self.raw(name)
        valid = xp.asarray(validity(array))
        if pa.types.is_null(array.type):
            return Categorical(xp.zeros(len(array), dtype=np.int64), valid)
        if pa.types.is_integer(array.type):
            return Categorical(xp.asarray(integer_values(array, name)), valid)
        if is_string_type(array.type):
            offsets, data = string_buffers(array)
            return Categorical((xp.asarray(offsets), xp.asarray(data)), valid)
        raise DataError(
            f"column {name!r}: a categorical op needs an integer or string column, found {array.type}"
            + (" (cast floats to integers or bucketize them first)" if pa.types.is_floating(array.type) else "")
        )

    def categoricals(self, names: list[str]) -> list[Categorical]:
        """`categorical` of several columns, converted side by side (conversion copies chunks)."""
        if self._pending.keys() & set(names):
            self.flush()  # after this, reads do not mutate the frame, so threads may share it
        return self.map_columns(self.categorical, names)

    def map_columns(self, fn, items) -> list:
        """[fn(item) for item in items]; on the CPU spread over cores (each item is independent)."""
        if self.xp is np:
            return parallel_map(fn, items, rows=self.num_rows)
        return [fn(item) for item in items]

    # -- writing -------------------------------------------------------------------------------
    def push_step(self, name: str, opcode: int, a: float = 0.0, b: float = 0.0) -> None:
        """Append one continuous step to the column's pending program (run later, fused)."""
        if name not in self._pending:
            # Raw columns are converted straight into the kernel's input matrix at flush time.
            source = self.outputs[name].astype(np.float64) if self.outputs.get(name) is not None else None
            self._pending[name] = (source, [])
        self._pending[name][1].append((opcode, a, b))
        self.outputs.setdefault(name, None)  # keep first-write order; filled in by flush()

    def missing_mask(self, name: str):
        """bool[n]: whether the column's current value is missing."""
        return self.xp.isnan(self.numeric(name))

    def write(self, name: str, values) -> None:
        if name in self._pending:
            del self._pending[name]
        self.outputs[name] = values

    def flush(self) -> None:
        """Run every pending continuous program in one fused kernel call."""
        if not self._pending:
            return
        xp = self.xp
        names = list(self._pending)
        depth = max(len(steps) for _, steps in self._pending.values())
        program = np.zeros((len(names), max(depth, 1), 3))
        for row, name in enumerate(names):
            for step, (opcode, a, b) in enumerate(self._pending[name][1]):
                program[row, step] = (opcode, a, b)
        host = np.empty((len(names), self.num_rows))
        raw_rows = [row for row, name in enumerate(names) if self._pending[name][0] is None]
        self.map_columns(lambda row: numeric_values(self.raw(names[row]), names[row], self.nonfinite, out=host[row]), raw_rows)
        values = xp.asarray(host)
        for row, name in enumerate(names):
            if self._pending[name][0] is not None:
                values[row] = self._pending[name][0]
        result = kernels.numeric_chain(values, xp.asarray(program))
        self._pending.clear()
        for row, name in enumerate(names):
            self.outputs[name] = result[row]

    def written(self) -> dict[str, object]:
        """Every column an op wrote, in first-write order, with its final array."""
        self.flush()
        return dict(self.outputs)
