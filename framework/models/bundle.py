"""The model bundle: everything a training run hands to scoring, in safetensors + JSON only.

A bundle directory holds:

    model.safetensors   the weights (state dict of the unwrapped model, embedding tables whole); a
                        large model goes on in model-00002-of-0000N.safetensors, ...
    model.json          format version, model name + hyperparameters, input columns, cardinalities,
                        and the sha256 of every other file in the bundle
    pipeline/           the fitted FeaturePipeline artifact (only if one was given)
    metrics.json        evaluation metrics (NaN/inf stored as null)
    contract.yaml       the schema contract of the training data (only if one was given)
    lineage.json        where the bundle came from (data, config, code version...)

Loading parses JSON and safetensors only; nothing in a bundle is unpickled or executed, and files
the manifest does not list (a stray `model.pt`, say) are never opened. The checksums catch
corruption and edits of single files; they are integrity, not authenticity: whoever can rewrite
`model.json` can rewrite its checksums, which is why safety rests on never unpickling.
A bundle carries no code: for a user model, `model.json` names its import path, and that module
must already be installed where the bundle is loaded (importing it runs its top-level code).

Example:
    >>> path = save_bundle("out/bundle", model=model, model_config=config, continuous_columns=["I1"],
    ...                    categorical_columns=["C1"], cardinalities=[100], metrics={"auc": 0.8},
    ...                    lineage={"run": "r1"})                                  # doctest: +SKIP
    >>> bundle = load_bundle(path)                                                 # doctest: +SKIP
    >>> bundle.predict_proba(np.zeros((2, 1)), np.zeros((2, 1), dtype=np.int64))  # doctest: +SKIP
    array([0.49..., 0.49...])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from framework.config._model import validate_model
from framework.errors import ArtifactError, ConfigError, DataError
import framework.models._bundle_files as files
from framework.models._bundle_save import save_bundle
from framework.models._config import ModelConfig, build_model, validate_model_config

__all__ = ["Bundle", "save_bundle", "load_bundle", "FORMAT_VERSION"]

FORMAT_VERSION = files.FORMAT_VERSION


@dataclass
class Bundle:
    """A loaded, verified bundle. `model` is in eval mode on the CPU; `checksums` maps file → sha256.

    Example:
        >>> bundle = load_bundle("out/bundle")                                          # doctest: +SKIP
        >>> tensors = bundle.pipeline.transform_to_tensors(raw_table)                    # doctest: +SKIP
        >>> bundle.predict_proba(tensors["continuous"], tensors["categorical"])          # doctest: +SKIP
    """

    model: nn.Module
    model_config: ModelConfig
    continuous_columns: list[str]
    categorical_columns: list[str]
    cardinalities: list[int]
    pipeline: Any
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    contract_path: Path | None
    directory: Path
    checksums: dict[str, str] = field(default_factory=dict)

    def predict_proba(self, continuous, categorical) -> np.ndarray:
        """P(label = 1) per row, float64, from arrays of shape [rows, columns] (NumPy or torch)."""
        continuous = torch.as_tensor(np.asarray(continuous, dtype=np.float32))
        categorical = torch.as_tensor(np.asarray(categorical, dtype=np.int64))
        self._check_batch(continuous, categorical)
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            logits = self.model(continuous.to(device), categorical.to(device))
        return torch.sigmoid(logits.double()).cpu().numpy()

    def _check_batch(self, continuous: torch.Tensor, categorical: torch.Tensor) -> None:
        want = (len(self.continuous_columns), len(self.categorical_columns))
        if continuous.dim() != 2 or categorical.dim() != 2 or (continuous.shape[1], categorical.shape[1]) != want:
            raise DataError(
                f"predict_proba: expected continuous [rows, {want[0]}] and categorical [rows, {want[1]}], "
                f"got {list(continuous.shape)} and {list(categorical.shape)}"
            )
        if categorical.numel():
            limits = torch.tensor(self.cardinalities, dtype=torch.int64)
            bad = (categorical < 0) | (categorical >= limits)
            if bool(bad.any()):
                column = int(bad.any(dim=0).nonzero()[0])
                raise DataError(
                    f"predict_proba: categorical column {self.categorical_columns[column]!r} has an index outside "
                    f"[0, {self.cardinalities[column]}); transform raw data with the bundle's pipeline first"
                )


class _Inputs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    continuous_columns: list[str]
    categorical_columns: list[str]
    cardinalities: list[int]


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    format: str
    format_version: int
    model: dict[str, Any]
    inputs: _Inputs
    torch_version: str
    files: dict[str, str]


def _read_manifest(root: Path) -> _Manifest:
    path = files.member_path(root, files.MANIFEST)
    if not path.is_file():
        raise ArtifactError(f"{root / files.MANIFEST}: missing; {root} is not a model bundle")
    document = files.read_json(path)
    if not isinstance(document, dict) or document.get("format") != files.FORMAT:
        raise ArtifactError(f"{path}: not a model bundle manifest (format should be {files.FORMAT!r})")
    if document.get("format_version") != files.FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: format_version {document.get('format_version')!r} is not supported "
            f"(this raylane reads version {files.FORMAT_VERSION})"
        )
    try:
        return validate_model(_Manifest, document, str(path))
    except ConfigError as error:
        raise ArtifactError(str(error)) from None


def _verify_checksums(root: Path, listed: dict[str, str]) -> None:
    for required in (files.WEIGHTS, files.METRICS, files.LINEAGE):
        if required not in listed:
            raise ArtifactError(f"{root / files.MANIFEST}: does not list {required}; the bundle is incomplete")
    for name, expected in listed.items():
        path = files.member_path(root, name)
        if not path.is_file():
            raise ArtifactError(f"{root / name}: listed in {files.MANIFEST} but missing")
        if files.sha256_file(path) != expected:
            raise ArtifactError(f"{root / name}: sha256 does not match {files.MANIFEST}; the file was changed after saving")
    pipeline_dir = root / files.PIPELINE_DIR
    if pipeline_dir.is_dir():
        # FeaturePipeline.load may open any file in its folder, so each one must be checksummed.
        for name in files.bundle_files(pipeline_dir):
            if f"{files.PIPELINE_DIR}/{name}" not in listed:
                raise ArtifactError(f"{pipeline_dir / name}: not listed in {files.MANIFEST}; refusing the pipeline")


def _load_model(root: Path, manifest: _Manifest) -> tuple[ModelConfig, nn.Module]:
    where = root / files.MANIFEST
    spec = manifest.model
    try:
        config = validate_model_config({**spec.get("hyperparameters", {}), "name": spec.get("name")}, source=str(where))
        model = build_model(config, len(manifest.inputs.continuous_columns), manifest.inputs.cardinalities)
    except ConfigError as error:
        raise ArtifactError(f"{where}: cannot rebuild the model: {error}") from None
    weights = {}
    for name in files.weight_file_names(manifest.files):
        weights_path = files.member_path(root, name)
        try:
            weights.update(load_file(str(weights_path), device="cpu"))
        except (SafetensorError, OSError, ValueError) as error:
            raise ArtifactError(f"{weights_path}: not a readable safetensors file ({error})") from None
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise ArtifactError(f"{root / files.WEIGHTS}: weights do not fit the model in {files.MANIFEST} ({error})") from None
    return config, model.eval()


def _load_pipeline(root: Path, listed: dict[str, str]) -> Any:
    if not any(name.startswith(f"{files.PIPELINE_DIR}/") for name in listed):
        return None
    from framework.features import FeaturePipeline  # lazy: models must not need features to import

    return FeaturePipeline.load(files.member_path(root, files.PIPELINE_DIR))


def load_bundle(directory: str | os.PathLike) -> Bundle:
    """Read and verify a bundle; ArtifactError naming the file on any version, checksum or path problem."""
    root = Path(os.path.realpath(files.local_directory(directory)))
    if not root.is_dir():
        raise ArtifactError(f"{directory}: not a directory; expected a model bundle written by save_bundle")
    files.check_members_inside(root)
    manifest = _read_manifest(root)
    _verify_checksums(root, manifest.files)
    config, model = _load_model(root, manifest)
    listed = manifest.files
    return Bundle(
        model=model,
        model_config=config,
        continuous_columns=list(manifest.inputs.continuous_columns),
        categorical_columns=list(manifest.inputs.categorical_columns),
        cardinalities=list(manifest.inputs.cardinalities),
        pipeline=_load_pipeline(root, listed),
        metrics=files.read_json(files.member_path(root, files.METRICS)),
        lineage=files.read_json(files.member_path(root, files.LINEAGE)),
        contract_path=files.member_path(root, files.CONTRACT) if files.CONTRACT in listed else None,
        directory=root,
        checksums=dict(listed),
    )
