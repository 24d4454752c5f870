"""Embedding shards on disk: safetensors per worker plus JSON offsets, read back under any other layout.

Each worker writes the pieces it holds (table weights and the fused optimizer's state) to
`embeddings-<rank>.safetensors`, and `embeddings-<rank>.json` records each piece's table, tensor,
row and column offsets and sizes. A worker of a later run (any number of workers, any sharding)
reads only the regions of the pieces that overlap the shards it now owns (safetensors slices), so
no worker ever gathers a whole table. Full tables in a `model.safetensors` (a replicated run's
checkpoint) are read the same way, as pieces at offset 0.

Row-wise Adagrad keeps one value per row and per column shard (the mean of the squared gradients
over that shard's columns); a shard that spans other column ranges gets the width-weighted mean of
the overlapping ones, which is exact whenever the new range is made of whole old ones.

Example:
    >>> write_shards(directory, rank, pieces)                       # doctest: +SKIP
    >>> index = ShardIndex.of(directory)                              # doctest: +SKIP
    >>> index.read_into(target_tensor, "inputs.embeddings.3", "weight", offsets=(0, 0))   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from framework.errors import ArtifactError

__all__ = ["Piece", "ShardIndex", "write_shards", "SHARD_PREFIX"]

SHARD_PREFIX = "embeddings-"


@dataclass(frozen=True)
class Piece:
    """A saved piece: where it lies in its whole tensor, and where its bytes are.

    `columns` is the column range of the weight piece a 1-D row-wise state belongs to."""

    table: str
    tensor: str
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    columns: tuple[int, int] | None
    file: str
    key: str
    optimizer: str | None = None  # the fused optimizer whose state this is (None for weights)


def write_shards(directory: str | os.PathLike, rank: int, shards: Iterable, optimizer: str | None = None) -> Path | None:
    """Write this worker's `LocalShard`s (state of the fused `optimizer`); returns the JSON index, or None."""
    shards = list(shards)
    if not shards:
        return None
    directory = Path(directory)
    stem = f"{SHARD_PREFIX}{rank:05d}"
    tensors, entries, seen = {}, [], {}
    for shard in shards:
        number = seen[(shard.table, shard.tensor)] = seen.get((shard.table, shard.tensor), -1) + 1
        key = f"{shard.table}/{shard.tensor}/{number}"
        tensors[key] = shard.data.detach().to("cpu", copy=True).contiguous()  # views share one buffer: copy out
        entries.append({"table": shard.table, "tensor": shard.tensor, "offsets": list(shard.offsets),
                        "sizes": list(shard.sizes), "columns": list(shard.columns) if shard.columns else None, "key": key})
    save_file(tensors, str(directory / f"{stem}.safetensors"))
    index = directory / f"{stem}.json"
    document = {"format": "raylane-embedding-shards", "version": 1, "optimizer": optimizer, "pieces": entries}
    index.write_text(json.dumps(document, indent=1))
    return index


class ShardIndex:
    """Every saved piece of a checkpoint, by (table, tensor)."""

    def __init__(self, pieces: list[Piece]):
        self._pieces: dict[tuple[str, str], list[Piece]] = {}
        for piece in pieces:
            self._pieces.setdefault((piece.table, piece.tensor), []).append(piece)

    @classmethod
    def of(cls, directory: str | os.PathLike, full_tables: Iterable[str] = ()) -> "ShardIndex":
        """The pieces in `directory`: its shard files, and whole tables `<table>.weight` in
        model.safetensors for the names in `full_tables` (a replicated checkpoint)."""
        directory = Path(directory)
        pieces = []
        for index in sorted(directory.glob(f"{SHARD_PREFIX}*.json")):
            document = json.loads(index.read_text())
            file = str(index.with_suffix(".safetensors"))
            for entry in document["pieces"]:
                optimizer = None if entry["tensor"] == "weight" else document.get("optimizer")
                pieces.append(Piece(entry["table"], entry["tensor"], tuple(entry["offsets"]), tuple(entry["sizes"]),
                                    tuple(entry["columns"]) if entry.get("columns") else None, file, entry["key"], optimizer))
        weights = directory / "model.safetensors"
        wanted = set(full_tables)
        if wanted and weights.exists():
            with safe_open(str(weights), framework="pt") as handle:
                for key in handle.keys():
                    table = key.rsplit(".", 1)[0]
                    if key.endswith(".weight") and table in wanted:
                        shape = tuple(handle.get_slice(key).get_shape())
                        pieces.append(Piece(table, "weight", (0, 0), shape, None, str(weights), key))
        return cls(pieces)

    def has(self, table: str, tensor: str) -> bool:
        return (table, tensor) in self._pieces

    def tensors_of(self, table: str) -> list[str]:
        return sorted(tensor for name, tensor in self._pieces if name == table)

    def read_into(self, target: torch.Tensor, table: str, tensor: str, offsets: tuple[int, ...],
                  columns: tuple[int, int] | None = None, optimizer: str | None = None) -> bool:
        """Fill `target` (the region at `offsets`) from the saved pieces; False if none was saved, or only
        state of another optimizer. Weights must cover the whole region (ArtifactError naming the table)."""
        pieces = [piece for piece in self._pieces.get((table, tensor), [])
                  if len(piece.sizes) == target.dim() and (tensor == "weight" or piece.optimizer == optimizer)]
        if not pieces:
            return False
        if target.dim() == 2:
            covered = _read_region(target, pieces, offsets)
            if tensor == "weight" and covered < target.numel():
                raise ArtifactError(f"the checkpoint holds {covered:,} of the {target.numel():,} values of table {table!r} "
                                    f"at rows {offsets[0]}..{offsets[0] + target.shape[0]}: a worker's shard file is missing")
        else:
            _read_rowwise(target, pieces, offsets[0], columns)
        return True


def _overlap(start: int, size: int, other_start: int, other_size: int) -> tuple[int, int]:
    return max(start, other_start), min(start + size, other_start + other_size)


def _read_region(target: torch.Tensor, pieces: list[Piece], offsets: tuple[int, ...]) -> int:
    """Copy the overlapping regions of `pieces` into `target`; returns how many values were covered."""
    r0, c0 = offsets
    rows, cols = target.shape
    covered = 0
    for piece in pieces:
        lo, hi = _overlap(r0, rows, piece.offsets[0], piece.sizes[0])
        left, right = _overlap(c0, cols, piece.offsets[1], piece.sizes[1])
        if lo >= hi or left >= right:
            continue
        pr, pc = piece.offsets
        with safe_open(piece.file, framework="pt") as handle:
            values = handle.get_slice(piece.key)[lo - pr: hi - pr, left - pc: right - pc]
        target[lo - r0: hi - r0, left - c0: right - c0].copy_(values)
        covered += (hi - lo) * (right - left)
    return covered


def _read_rowwise(target: torch.Tensor, pieces: list[Piece], r0: int, columns: tuple[int, int] | None) -> None:
    """Row-wise state: a width-weighted mean of the column pieces that overlap `columns`."""
    rows = target.shape[0]
    total = torch.zeros(rows, dtype=torch.float64)
    weight = torch.zeros(rows, dtype=torch.float64)
    for piece in pieces:
        lo, hi = _overlap(r0, rows, piece.offsets[0], piece.sizes[0])
        if lo >= hi:
            continue
        width = 1
        if columns and piece.columns:
            left, right = _overlap(columns[0], columns[1] - columns[0], piece.columns[0], piece.columns[1] - piece.columns[0])
            width = right - left
            if width <= 0:
                continue
        with safe_open(piece.file, framework="pt") as handle:
            values = handle.get_slice(piece.key)[lo - piece.offsets[0]: hi - piece.offsets[0]]
        total[lo - r0: hi - r0] += values.double() * width
        weight[lo - r0: hi - r0] += width
    filled = weight > 0
    target[filled.to(target.device)] = (total[filled] / weight[filled]).to(target.device, target.dtype)
