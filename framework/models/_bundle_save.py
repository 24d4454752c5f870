"""Writing a model bundle: staged beside the target, checksummed, then renamed into place.

Example:
    >>> save_bundle("out/bundle", model=model, model_config=config, continuous_columns=["I1"],
    ...             categorical_columns=["C1"], cardinalities=[100], metrics={"auc": 0.8},
    ...             lineage={"run": "r1"})                                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from framework.errors import ArtifactError
import framework.models._bundle_files as files
from framework.models._config import ModelConfig, build_model, validate_model_config
from framework.models._embeddings import tables_on_meta

__all__ = ["save_bundle", "weights_for_saving"]


def _unwrap(model: nn.Module) -> nn.Module:
    # DDP / DataParallel keep the model in `.module`, torch.compile in `._orig_mod`; their state
    # dicts carry that prefix, which a freshly built model would not recognise.
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def weights_for_saving(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of the unwrapped model: detached, on the CPU, contiguous, no shared storage."""
    tensors, storages = {}, set()
    for key, tensor in _unwrap(model).state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer and pointer in storages:
            tensor = tensor.clone()  # safetensors refuses tensors that share memory
        storages.add(pointer)
        tensors[key] = tensor
    return tensors


def _check_weights_fit(config: ModelConfig, weights: dict, num_continuous: int, cardinalities: list[int]) -> None:
    """Fail now, not at load time, if the weights do not fit the model the bundle describes."""
    try:
        with torch.device("meta"), tables_on_meta():  # shapes only: no memory, no init cost for large tables
            reference = build_model(config, num_continuous, cardinalities)
    except (NotImplementedError, RuntimeError):
        reference = build_model(config, num_continuous, cardinalities)  # a user model that needs real tensors
    expected = {key: tuple(t.shape) for key, t in reference.state_dict().items()}
    got = {key: tuple(t.shape) for key, t in weights.items()}
    if expected != got:
        missing = sorted(set(expected) - set(got))[:5]
        unexpected = sorted(set(got) - set(expected))[:5]
        reshaped = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])[:5]
        raise ArtifactError(
            f"{files.WEIGHTS}: the model's weights do not fit {config.name} built for {num_continuous} continuous "
            f"and {len(cardinalities)} categorical columns (missing {missing}, unexpected {unexpected}, "
            f"different shapes {reshaped}); pass the model_config and cardinalities it was built with"
        )


def _write_contract(staging: Path, contract: str | os.PathLike | None) -> None:
    if contract is None:
        return
    text_given = isinstance(contract, str) and not contract.endswith((".yaml", ".yml")) and not os.path.isfile(contract)
    if text_given:
        files.write_bytes(staging / files.CONTRACT, contract.encode("utf-8"))
        return
    if not os.path.isfile(contract):
        raise ArtifactError(f"{contract}: contract file not found (pass a path to an existing file, or YAML text)")
    shutil.copyfile(contract, staging / files.CONTRACT)


def _manifest(config: ModelConfig, inputs: dict, staging: Path) -> bytes:
    checksums = {name: files.sha256_file(staging / name) for name in files.bundle_files(staging)}
    document = {
        "format": files.FORMAT,
        "format_version": files.FORMAT_VERSION,
        "model": {"name": config.name, "hyperparameters": config.hyperparameters},
        "inputs": inputs,
        "torch_version": torch.__version__,
        "files": checksums,
    }
    return (json.dumps(document, indent=2, allow_nan=False) + "\n").encode("utf-8")


def _publish(staging: Path, target: Path) -> None:
    """Rename the finished bundle into place; an old bundle (or empty directory) is replaced last."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ArtifactError(f"{target}: exists and is not a directory; refusing to replace it with a bundle")
    if target.exists() and any(target.iterdir()) and not (target / files.MANIFEST).is_file():
        raise ArtifactError(f"{target}: exists and is not a model bundle (no {files.MANIFEST}); refusing to replace it")
    if not target.exists():
        os.rename(staging, target)
        return
    retired = target.with_name(f".{target.name}.replaced-{uuid.uuid4().hex[:8]}")
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(retired, target)
        raise
    shutil.rmtree(retired)


def save_bundle(
    directory: str | os.PathLike,
    *,
    model: nn.Module,
    model_config: ModelConfig | Mapping[str, Any],
    continuous_columns: Sequence[str],
    categorical_columns: Sequence[str],
    cardinalities: Sequence[int],
    pipeline: Any = None,
    metrics: Mapping[str, Any],
    contract_path_or_text: str | os.PathLike | None = None,
    lineage: Mapping[str, Any],
    documents: Mapping[str, Mapping[str, Any] | str | bytes] | None = None,
) -> Path:
    """Write a bundle (see `framework.models.bundle`) to `directory` atomically; returns its path.

    `documents` adds more checksummed files by plain name: a mapping is written as JSON (the feature
    profile, `profile.json`), a string as text (the model card, `model_card.md`), bytes as they are
    (the importance chart, `explain.png`).
    """
    config = model_config if isinstance(model_config, ModelConfig) else validate_model_config(model_config)
    cardinalities = [int(c) for c in cardinalities]
    if len(cardinalities) != len(categorical_columns):
        raise ArtifactError(
            f"{directory}: {len(categorical_columns)} categorical columns but {len(cardinalities)} cardinalities"
        )
    inputs = {
        "continuous_columns": [str(c) for c in continuous_columns],
        "categorical_columns": [str(c) for c in categorical_columns],
        "cardinalities": cardinalities,
    }
    weights = weights_for_saving(model)
    _check_weights_fit(config, weights, len(continuous_columns), cardinalities)
    target = files.local_directory(directory).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        _write_contents(staging, weights, pipeline, metrics, lineage, contract_path_or_text)
        _write_documents(staging, documents or {})
        files.write_bytes(staging / files.MANIFEST, _manifest(config, inputs, staging))
        _publish(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def _weight_groups(weights: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """The weights in order, cut into groups of at most WEIGHTS_FILE_BYTES (a larger tensor alone)."""
    groups: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in weights.items():
        nbytes = tensor.numel() * tensor.element_size()
        if groups[-1] and size + nbytes > files.WEIGHTS_FILE_BYTES:
            groups.append({})
            size = 0
        groups[-1][key] = tensor
        size += nbytes
    return groups


def _write_weights(staging: Path, weights: dict[str, torch.Tensor]) -> None:
    """model.safetensors, then model-00002-of-0000N.safetensors, ... for weights past one file's size."""
    groups = _weight_groups(weights)
    for number, group in enumerate(groups, start=1):
        name = files.WEIGHTS if number == 1 else files.numbered_weight_file(number, len(groups))
        save_file(group, str(staging / name), metadata={"format": files.FORMAT})


def _write_contents(staging: Path, weights, pipeline, metrics, lineage, contract) -> None:
    _write_weights(staging, weights)
    for name, value in ((files.METRICS, metrics), (files.LINEAGE, lineage)):
        text = json.dumps(files.json_ready(dict(value), name), indent=2, allow_nan=False, sort_keys=True)
        files.write_bytes(staging / name, (text + "\n").encode("utf-8"))
    _write_contract(staging, contract)
    if pipeline is not None:
        # Duck-typed: any object with save(dir); framework.features stays unimported here.
        pipeline.save(staging / files.PIPELINE_DIR)


def _write_documents(staging: Path, documents: Mapping[str, Mapping[str, Any] | str | bytes]) -> None:
    reserved = {files.MANIFEST, files.WEIGHTS, files.METRICS, files.LINEAGE, files.CONTRACT, files.PIPELINE_DIR}
    for name, content in documents.items():
        if name in reserved or name.startswith("model-") or "/" in name or name.startswith(".") or not name:
            raise ArtifactError(f"bundle document {name!r}: expected a plain file name other than {sorted(reserved)} "
                                "and model-*.safetensors")
        if isinstance(content, bytes):
            data = content
        elif isinstance(content, str):
            data = content.encode("utf-8")
        else:
            data = (json.dumps(files.json_ready(dict(content), name), indent=2, allow_nan=False, sort_keys=True) + "\n").encode()
        files.write_bytes(staging / name, data)
