"""Model inputs from raw rows: the one place a fitted pipeline's output becomes what a model takes.

Training, batch scoring and online scoring all call `model_inputs`, so the same row gives the same
inputs, and the same score, everywhere.

Example:
    >>> arrays = model_inputs(bundle.pipeline, raw_table)                  # doctest: +SKIP
    >>> arrays["continuous"].dtype, arrays["categorical"].dtype            # doctest: +SKIP
    (dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["model_inputs", "finite_inputs"]


def model_inputs(pipeline, table: pa.Table, out_of_fold: bool = False) -> dict[str, np.ndarray]:
    """{"continuous": float32[n, c], "categorical": int64[n, k]} for one Arrow batch.

    Missing continuous values (NaN) become 0.0, the mean after normalisation; fill them explicitly in
    the pipeline to choose another value. Passthrough columns (the label, say) need not be present.
    """
    return finite_inputs(pipeline.transform_to_arrays(table, out_of_fold=out_of_fold, passthrough=False))


def finite_inputs(arrays: dict) -> dict[str, np.ndarray]:
    """The model's view of `transform_to_arrays` output: missing (NaN) continuous values become 0.0."""
    continuous = np.nan_to_num(np.asarray(arrays["continuous"], dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return {"continuous": continuous, "categorical": np.asarray(arrays["categorical"], dtype=np.int64)}
