"""FeaturePipeline ↔ artifact directory: which op state goes into JSON and which into Arrow files.

Example:
    >>> pipeline.save("artifacts/features")                          # doctest: +SKIP
    >>> FeaturePipeline.load("artifacts/features").output_schema     # doctest: +SKIP
"""

from __future__ import annotations

import os

from framework.errors import ArtifactError, RaylaneError
from framework.features._artifact import MANIFEST, read_artifact, write_artifact
from framework.features._outputs import OutputSchema

__all__ = ["save_pipeline", "load_pipeline"]


def save_pipeline(pipeline, directory: str | os.PathLike) -> None:
    ops, tables = [], {}
    for index, op in enumerate(pipeline.ops):
        scalars, op_tables = op.state()
        files = {}
        for number, (key, table) in enumerate(op_tables.items()):
            # Column names may hold any character: file names are positional, the key is in JSON.
            files[key] = f"op{index:02d}-{op.op_name}-{number}.arrow"
            tables[files[key]] = table
        ops.append({"op": op.op_name, "params": op.params(), "state": scalars, "files": files})
    options = pipeline.to_yaml_dict()
    document = {
        "nonfinite": options["nonfinite"],
        "passthrough": options["passthrough"],
        "id_column": options["id_column"],
        "ops": ops,
        "input_schema": pipeline.input_schema_,
        "output_schema": pipeline.output_schema_.to_dict(),
        "rows_fitted": pipeline.rows_fitted_,
    }
    try:
        write_artifact(directory, document, tables)
    except ValueError as error:  # allow_nan=False: a statistic is NaN or infinite
        raise ArtifactError(f"{directory}: a fitted statistic is not finite and cannot be saved ({error})") from None


def load_pipeline(cls, directory: str | os.PathLike):
    document, tables = read_artifact(directory)
    where = os.path.join(os.fspath(directory), MANIFEST)
    try:
        mapping = {
            "nonfinite": document["nonfinite"],
            "passthrough": document["passthrough"],
            "id_column": document["id_column"],
            "ops": [{"op": op["op"], **op["params"]} for op in document["ops"]],
        }
        pipeline = cls.from_yaml_dict(mapping, source=where)
        for op, saved in zip(pipeline.ops, document["ops"]):
            op.load_state(saved["state"], {key: tables[name] for key, name in saved["files"].items()})
        pipeline.input_schema_ = document["input_schema"]
        pipeline.output_schema_ = OutputSchema.from_dict(document["output_schema"])
        pipeline.rows_fitted_ = document["rows_fitted"]
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"{where}: incomplete or inconsistent manifest ({type(error).__name__}: {error})") from None
    except RaylaneError as error:
        raise ArtifactError(f"{where}: {error}") from None
    return pipeline
