"""MurmurHash3 x86_32 in vectorized NumPy: the CPU twin of the GPU hashing kernels.

Every row is hashed at once with uint32 array arithmetic (NumPy wraps on overflow, which is what
the hash wants). Strings are hashed block position by block position: rows are put in order of
decreasing block count so that the rows still active at block j are a prefix.

Example:
    >>> import numpy as np
    >>> murmur3_int64(np.array([1], dtype=np.int64), 0)
    array([1392991556], dtype=uint32)
"""

from __future__ import annotations

import numpy as np

__all__ = ["murmur3_int64", "murmur3_strings"]

_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)
_M5 = np.uint32(5)
_N1 = np.uint32(0xE6546B64)
_F1 = np.uint32(0x85EBCA6B)
_F2 = np.uint32(0xC2B2AE35)
_TAIL_MASKS = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _mix_key(k: np.ndarray) -> np.ndarray:
    k = k * _C1
    k = _rotl(k, 15)
    return k * _C2


def _mix_block(h: np.ndarray, k: np.ndarray) -> np.ndarray:
    h = h ^ _mix_key(k)
    h = _rotl(h, 13)
    return h * _M5 + _N1


def _finalize(h: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    h = h ^ lengths.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= _F1
    h ^= h >> np.uint32(13)
    h *= _F2
    h ^= h >> np.uint32(16)
    return h


def _seed_array(seeds, n: int) -> np.ndarray:
    seeds = np.asarray(seeds)
    if seeds.ndim == 0:
        return np.full(n, seeds, dtype=np.uint32)
    if seeds.shape != (n,):
        raise ValueError(f"seeds: expected a scalar or {n} values, got shape {seeds.shape}")
    return seeds.astype(np.uint32, copy=True)


def murmur3_int64(values: np.ndarray, seeds) -> np.ndarray:
    """MurmurHash3 x86_32 of the 8 little-endian bytes of each int64 value."""
    words = np.ascontiguousarray(values, dtype="<i8").view("<u4").reshape(-1, 2)
    h = _seed_array(seeds, len(words))
    h = _mix_block(h, words[:, 0])
    h = _mix_block(h, words[:, 1])
    return _finalize(h, np.full(len(words), 8, dtype=np.uint32))


def _unaligned_words(data: np.ndarray) -> np.ndarray:
    """words[p] = the little-endian uint32 starting at byte p (data padded so p+3 stays in bounds)."""
    padded = np.zeros(len(data) + 4, dtype=np.uint8)
    padded[: len(data)] = data
    return np.ndarray(shape=(len(data) + 1,), dtype="<u4", buffer=padded, strides=(1,))


def murmur3_strings(offsets: np.ndarray, data: np.ndarray, seeds) -> np.ndarray:
    """MurmurHash3 x86_32 of each row's bytes `data[offsets[i]:offsets[i+1]]`."""
    offsets = np.asarray(offsets, dtype=np.int64)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h = _seed_array(seeds, len(starts))
    if len(starts) == 0:
        return h
    words = _unaligned_words(np.asarray(data, dtype=np.uint8))
    blocks = lengths // 4
    order = None
    if blocks.min() != blocks.max():
        # Longest rows first, so the rows still active at block j are a prefix. A stable sort of a
        # 16-bit key is a radix sort in NumPy: linear time.
        key = blocks.max() - blocks
        order = np.argsort(key.astype(np.uint16) if key.max() < 65536 else key, kind="stable")
        starts, lengths, blocks, h = starts[order], lengths[order], blocks[order], h[order]
    block_rows = np.bincount(blocks)
    active_counts = len(starts) - np.cumsum(block_rows)[:-1]
    for j, count in enumerate(active_counts):
        h[:count] = _mix_block(h[:count], words[starts[:count] + 4 * j])
    # A zero tail key leaves h unchanged, so masking handles rows without a tail without a branch.
    tail = words[starts + 4 * blocks] & _TAIL_MASKS[lengths % 4]
    h ^= _mix_key(tail)
    h = _finalize(h, lengths)
    if order is None:
        return h
    out = np.empty_like(h)
    out[order] = h
    return out
