"""What a fitted pipeline produces: the output schema (for sizing a model) and the output containers.

Example:
    >>> schema = OutputSchema([OutputField("I1", "continuous", "float32"),
    ...                        OutputField("C1", "categorical", "int64", 12)], passthrough=["label"])
    >>> schema.continuous, schema.categorical
    (['I1'], {'C1': 12})
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from framework.features._base import CATEGORICAL, CONTINUOUS, FeatureOp, OutputField
from framework.features._columns import to_host

__all__ = ["OutputSchema", "output_schema", "assemble_table", "assemble_arrays", "to_tensors"]


@dataclass(frozen=True)
class OutputSchema:
    """Model inputs in output order: continuous names, categorical names with cardinalities."""

    fields: list[OutputField]
    passthrough: list[str] = field(default_factory=list)

    @property
    def continuous(self) -> list[str]:
        return [f.name for f in self.fields if f.kind == CONTINUOUS]

    @property
    def categorical(self) -> dict[str, int]:
        return {f.name: f.cardinality for f in self.fields if f.kind == CATEGORICAL}

    def to_dict(self) -> dict:
        return {
            "fields": [{"name": f.name, "kind": f.kind, "dtype": f.dtype, "cardinality": f.cardinality} for f in self.fields],
            "passthrough": list(self.passthrough),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "OutputSchema":
        return cls([OutputField(**f) for f in data["fields"]], list(data["passthrough"]))


def output_schema(ops: list[FeatureOp], passthrough: list[str]) -> OutputSchema:
    """The last writer of a column decides what it is; the first write decides its position."""
    fields: dict[str, OutputField] = {}
    for op in ops:
        for output in op.output_fields():
            fields[output.name] = output
    return OutputSchema(list(fields.values()), list(passthrough))


def assemble_table(table: pa.Table, written: dict, passthrough: list[str]) -> pa.Table:
    """Passthrough columns unchanged, then every written column in first-write order."""
    columns = {name: table.column(name) for name in passthrough}
    for name, values in written.items():
        columns[name] = pa.array(to_host(values))
    return pa.table(columns) if columns else pa.table({})


def _to_tensor(array):
    import torch

    if isinstance(array, np.ndarray):
        # Arrow-backed arrays are read-only; torch wants to own writable memory.
        writable = array.flags.writeable and array.flags.c_contiguous
        return torch.from_numpy(array if writable else np.array(array, order="C"))
    return torch.from_dlpack(array)  # CuPy → torch on the same device, no host round trip


def to_tensors(arrays: dict) -> dict:
    return {name: _to_tensor(array) for name, array in arrays.items()}


def assemble_arrays(table: pa.Table, written: dict, schema: OutputSchema, xp) -> dict:
    """{"continuous": float32[n, c], "categorical": int64[n, k]} plus numeric passthrough columns,
    all in module `xp` (NumPy, or CuPy on the GPU)."""
    rows = table.num_rows
    continuous = [xp.asarray(written[name]).astype(np.float32) for name in schema.continuous]
    categorical = [xp.asarray(written[name]).astype(np.int64) for name in schema.categorical]
    arrays = {
        "continuous": xp.stack(continuous, axis=1) if continuous else xp.zeros((rows, 0), np.float32),
        "categorical": xp.stack(categorical, axis=1) if categorical else xp.zeros((rows, 0), np.int64),
    }
    for name in schema.passthrough:
        column = table.column(name)
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            values = column.to_numpy() if column.null_count == 0 else column.cast(pa.float64()).to_numpy()
            arrays[name] = xp.asarray(values)
    return arrays
