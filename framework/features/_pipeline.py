"""FeaturePipeline: an ordered list of feature ops, fitted on data, saved as a pickle-free artifact.

Example:
    >>> import pyarrow as pa
    >>> pipeline = FeaturePipeline.from_yaml_dict({
    ...     "passthrough": ["label"],
    ...     "ops": [{"op": "fill_missing", "columns": ["x"]},
    ...             {"op": "categorify", "columns": ["c"]}]})
    >>> table = pa.table({"x": [1.0, None], "c": ["a", "b"], "label": [0, 1]})
    >>> pipeline.fit(table).transform(table).to_pydict()
    {'label': [0, 1], 'x': [1.0, 0.0], 'c': [2, 3]}
    >>> pipeline.output_schema.categorical
    {'c': 4}
"""

from __future__ import annotations

import os

import pyarrow as pa

from framework.errors import ConfigError, DataError, RaylaneError
from framework.features._arrow_arrays import is_string_type
from framework.features._base import FeatureOp
from framework.features._columns import to_host
from framework.features._fitting import FrameSettings, columns_to_fit, fit_ops, fit_ops_on_ray, run_transforms
from framework.features._outputs import OutputSchema, assemble_arrays, assemble_table, output_schema, to_tensors
from framework.features._fit_progress import FitProgress, shows_progress
from framework.features._plan import check_names, fit_stages, raw_inputs
from framework.features._registry import op_from_spec, op_to_mapping, validate_ops
from framework.features._sources import is_ray_dataset, local_source, require_columns, slice_batches
from framework.features._spec import parse_pipeline_spec

__all__ = ["FeaturePipeline"]


def _family(data_type: pa.DataType) -> str:
    """What must not change between fit and transform: numeric, string, or the exact other type."""
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if pa.types.is_null(data_type):
        return "null"
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "numeric"
    return "string" if is_string_type(data_type) else str(data_type)


class FeaturePipeline:
    """Ops run in order; each reads its columns as the earlier ops left them (FEATURES.md)."""

    def __init__(
        self,
        ops: list[FeatureOp],
        nonfinite: str = "error",
        passthrough: list[str] | tuple = (),
        id_column: str | None = None,
    ):
        self.ops = list(ops)
        self.nonfinite = nonfinite
        self.passthrough = list(passthrough)
        self.id_column = id_column

    # -- the YAML form -----------------------------------------------------------------------------
    @classmethod
    def from_yaml_dict(cls, mapping: dict, source: str = "features") -> "FeaturePipeline":
        """Build from the `features:` mapping of FEATURES.md (ConfigError naming the op and field)."""
        spec = parse_pipeline_spec(mapping, source)
        ops = [op_from_spec(op) for op in spec.ops]
        check_names(ops, spec.passthrough, spec.id_column)
        return cls(ops, spec.nonfinite, spec.passthrough, spec.id_column)

    def to_yaml_dict(self) -> dict:
        return {
            "nonfinite": self.nonfinite,
            "passthrough": list(self.passthrough),
            "id_column": self.id_column,
            "ops": [op_to_mapping(op) for op in self.ops],
        }

    def _validate(self) -> None:
        validate_ops(self.ops)
        if self.nonfinite not in ("error", "missing"):
            raise ConfigError(f"nonfinite: got {self.nonfinite!r}; expected one of 'error', 'missing'")
        check_names(self.ops, self.passthrough, self.id_column)

    def _settings(self, out_of_fold: bool = False) -> FrameSettings:
        from kernels.backend import use_gpu

        return FrameSettings(self.nonfinite, self.id_column, out_of_fold, use_gpu())

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, source, progress: bool | None = None) -> "FeaturePipeline":
        """Fit on a pyarrow.Table, Parquet path(s)/glob, or ray.data.Dataset; returns self.

        `progress`: show rows fitted (a bar on a terminal, plain lines elsewhere); by default, when an
        entry point chose terminal output (the CLI, a job), not in library use."""
        return self._fit(source, out_of_fold=False, progress=progress)

    def _fit(self, source, out_of_fold: bool, progress: bool | None = None) -> "FeaturePipeline":
        self._validate()
        settings = self._settings(out_of_fold)
        show = shows_progress() if progress is None else progress
        passes = len(fit_stages(self.ops))
        if is_ray_dataset(source):
            facts = fit_ops_on_ray(self.ops, source, settings, FitProgress(passes, show=show))
        else:
            local = local_source(source)
            facts = fit_ops(self.ops, local, settings, FitProgress(passes, local.rows() if show else None, show))
        schema = facts["schema"]
        self.input_schema_ = {
            name: {"type": str(schema.field(name).type), "family": _family(schema.field(name).type)}
            for name in raw_inputs(self.ops, fitting=True)
        }
        self.output_schema_ = output_schema(self.ops, self.passthrough)
        self.rows_fitted_ = facts["rows"]
        return self

    def fit_transform(self, source):
        """Fit, then transform the same rows with out-of-fold target encoding.

        Returns a pyarrow.Table, or a ray.data.Dataset when given one (transformed lazily, per block).
        """
        self._fit(source, out_of_fold=True)
        if is_ray_dataset(source):
            return source.map_batches(_OutOfFoldBatches(self), batch_format="pyarrow")
        columns = self.input_columns()
        tables = [self.transform(batch, out_of_fold=True) for batch in local_source(source).batches(columns)]
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def input_columns(self) -> list[str]:
        """Every column fit or a training transform reads: op inputs, targets, passthrough, row id.

        Works before fit (it depends on the ops only), e.g. to choose the Parquet columns to read.
        """
        columns = columns_to_fit(self.ops, self.id_column) + self.passthrough
        return list(dict.fromkeys(columns))

    # -- transforming --------------------------------------------------------------------------
    @property
    def output_schema(self) -> OutputSchema:
        """Model inputs: continuous names, categorical names → cardinality (after fit)."""
        self._check_fitted()
        return self.output_schema_

    def _check_fitted(self) -> None:
        if not hasattr(self, "output_schema_"):
            raise RaylaneError("FeaturePipeline: call fit (or load an artifact) before transform")

    def _check_input(self, table: pa.Table, out_of_fold: bool, passthrough: bool = True) -> None:
        self._check_fitted()
        required = raw_inputs(self.ops) + (self.passthrough if passthrough else [])
        if out_of_fold and self.id_column and any(op.reads_row_id for op in self.ops):
            required.append(self.id_column)
        require_columns(table.schema, required, "input table")
        for name in raw_inputs(self.ops):
            fitted, found = self.input_schema_[name], table.schema.field(name).type
            if "null" not in (_family(found), fitted["family"]) and _family(found) != fitted["family"]:
                raise DataError(f"column {name!r}: the pipeline was fitted on {fitted['type']}, found {found}")

    def _written(self, table: pa.Table, out_of_fold: bool) -> tuple[dict, object]:
        """Run every op on one batch: (written columns, array module)."""
        frame = run_transforms(self.ops, range(len(self.ops)), self._settings(out_of_fold).frame(table))
        return frame.written(), frame.xp

    def transform(self, table: pa.Table, out_of_fold: bool = False) -> pa.Table:
        """Every column an op wrote plus the passthrough columns; rows in input order.

        `out_of_fold=True` is for the training rows themselves: target encoding then uses, for each
        row, the statistics of the other folds only (needs the id column).
        """
        self._check_input(table, out_of_fold)
        tables = [assemble_table(b, self._written(b, out_of_fold)[0], self.passthrough) for b in slice_batches(table)]
        if not tables:
            return assemble_table(table, self._written(table, out_of_fold)[0], self.passthrough)
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def transform_to_arrays(self, table: pa.Table, out_of_fold: bool = False, passthrough: bool = True) -> dict:
        """{"continuous": float32[n, c], "categorical": int64[n, k]} as NumPy (order: output_schema),
        plus each numeric passthrough column by name. `passthrough=False` is for scoring: only the
        model inputs, so the label and other passthrough columns need not be present."""
        self._check_input(table, out_of_fold, passthrough)
        written, xp = self._written(table, out_of_fold)
        arrays = assemble_arrays(table, written, self._schema_for(passthrough), xp)  # stacked on the device
        return {name: to_host(array) for name, array in arrays.items()}  # one copy per output array

    def transform_to_tensors(self, table: pa.Table, out_of_fold: bool = False, passthrough: bool = True) -> dict:
        """Like transform_to_arrays, as torch tensors. On the GPU they are CUDA tensors, handed from
        CuPy to torch through DLPack without a host round trip; on the CPU they share NumPy memory."""
        self._check_input(table, out_of_fold, passthrough)
        written, xp = self._written(table, out_of_fold)
        return to_tensors(assemble_arrays(table, written, self._schema_for(passthrough), xp))

    def _schema_for(self, passthrough: bool) -> OutputSchema:
        return self.output_schema_ if passthrough else OutputSchema(self.output_schema_.fields, [])

    # -- the artifact --------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> None:
        """Write the fitted pipeline as `pipeline.json` + Arrow IPC files (see FEATURES.md)."""
        from framework.features._persist import save_pipeline

        self._check_fitted()
        save_pipeline(self, directory)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "FeaturePipeline":
        """Read an artifact written by `save`; ArtifactError on any version or checksum mismatch."""
        from framework.features._persist import load_pipeline

        return load_pipeline(cls, directory)

    def __repr__(self) -> str:
        return f"FeaturePipeline({len(self.ops)} ops, nonfinite={self.nonfinite!r}, passthrough={self.passthrough!r})"


class _OutOfFoldBatches:
    """map_batches callable for fit_transform on a Ray Dataset (the pipeline travels with it)."""

    def __init__(self, pipeline: FeaturePipeline):
        self.pipeline = pipeline

    def __call__(self, batch: pa.Table) -> pa.Table:
        return self.pipeline.transform(batch, out_of_fold=True)
