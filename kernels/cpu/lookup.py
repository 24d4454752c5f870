"""Exact key lookup (value → position in a key list, or -1): the CPU twin of the GPU hash lookup.

Like the GPU's, the CPU index is a hash table built once per vocabulary and kept, so a lookup costs
O(values), never O(keys): a served row against a 1M-key vocabulary must not rebuild anything.
  * int64 keys: a pandas Index over the keys (its khash table is built on first use and kept).
  * string keys: the same over a 64-bit code of each key (two murmur3 hashes); every value that
    finds a code is then compared byte for byte with its key, so there is never a false match. If
    two distinct keys share a code (about 3e-8 for 1M keys), that index uses Arrow's `index_in`,
    which rebuilds its hash set per call but is exact.
  * a handful of strings against at most 64k keys (one served row): a dict of the keys, which
    skips the NumPy call overheads of hashing a few values.
  * strings at least 3 per key (a large batch against a small vocabulary): Arrow's `index_in`,
    whose per-call set build is then cheaper than hashing every value in NumPy.
With repeated keys (the API promises distinct ones) the first position wins on every path.

Example:
    >>> import numpy as np
    >>> index = build_key_index(np.array([30, 10, 20]))
    >>> lookup_keys(index, np.array([10, 99, 30]))
    array([ 1, -1,  0])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kernels.cpu.murmur import murmur3_strings
from kernels.cpu.strings import binary_array, string_buffers

__all__ = ["KeyIndex", "build_key_index", "lookup_keys"]

_DICT_MAX_VALUES = 64  # string lookups of at most this many values ...
_DICT_MAX_KEYS = 1 << 16  # ... against at most this many keys go through a dict of the keys
_CODE_SEEDS = (0, 0x9747B28C)  # the two murmur3 seeds of a string's 64-bit code
# Hashing strings in NumPy costs about 3x what Arrow's index_in takes to build its set per key, so
# from this many values per key index_in (set rebuilt, native probes) beats the kept code table.
_STRINGS_PER_KEY_FOR_ARROW = 3


@dataclass(frozen=True)
class KeyIndex:
    keys: pa.Array  # int64 or large_binary
    is_string: bool
    # Built on first use and kept: the hash table over codes (or None where codes collide), and the dict.
    _kept: dict = field(default_factory=dict, compare=False, repr=False)


def _as_arrow(values) -> pa.Array:
    if isinstance(values, tuple):
        return binary_array(*values)
    return pa.array(np.ascontiguousarray(values, dtype=np.int64))


def build_key_index(keys) -> KeyIndex:
    """Prepare `keys` (int64[k] or an (offsets, data) pair of distinct strings) for lookups."""
    return KeyIndex(_as_arrow(keys), isinstance(keys, tuple))


def lookup_keys(index: KeyIndex, values) -> np.ndarray:
    """Position of each value among the keys, or -1 when absent; int64[n]."""
    if isinstance(values, tuple) != index.is_string:
        kinds = ("string", "integer") if index.is_string else ("integer", "string")
        raise TypeError(f"lookup_keys: {kinds[0]} keys cannot look up {kinds[1]} values")
    if index.is_string and len(values[0]) - 1 <= _DICT_MAX_VALUES and len(index.keys) <= _DICT_MAX_KEYS:
        return _dict_lookup(index, values)
    many = index.is_string and len(values[0]) - 1 >= _STRINGS_PER_KEY_FOR_ARROW * len(index.keys)
    table = None if many else _code_table(index)
    if table is None:
        found = pc.index_in(_as_arrow(values), value_set=index.keys)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    codes, first_positions = table
    slots = codes.get_indexer(_codes(values)).astype(np.int64, copy=False)
    positions = slots if first_positions is None else np.where(slots >= 0, first_positions[slots], -1)
    if index.is_string:
        _drop_false_matches(index, values, positions)
    return positions


def _codes(values) -> np.ndarray:
    """int64 code per value: the value itself, or the two 32-bit murmur3 hashes of a string's bytes."""
    if not isinstance(values, tuple):
        return np.ascontiguousarray(values, dtype=np.int64)
    high, low = (murmur3_strings(values[0], values[1], seed).astype(np.uint64) for seed in _CODE_SEEDS)
    return ((high << np.uint64(32)) | low).view(np.int64)


def _code_table(index: KeyIndex):
    """(pandas Index of distinct key codes, position of each code's first key or None when no code
    repeats), or None when two distinct string keys share a code."""
    if "codes" not in index._kept:
        codes = _codes(string_buffers(index.keys) if index.is_string else index.keys.to_numpy(zero_copy_only=False))
        table = pd.Index(codes)
        if table.is_unique:  # the common case; the hash table built here is the one lookups use
            index._kept["codes"] = (table, None)
        else:
            repeated = table.duplicated(keep="first")
            collide = index.is_string and _codes_collide(index.keys, codes, repeated)
            first = np.flatnonzero(~repeated)
            index._kept["codes"] = None if collide else (pd.Index(codes[first]), first)
    return index._kept["codes"]


def _codes_collide(keys: pa.Array, codes: np.ndarray, repeated: np.ndarray) -> bool:
    """Whether a repeated code belongs to a key that differs from the first key with that code."""
    first_of_code = pd.Index(codes[~repeated]).get_indexer(codes[repeated])
    first_positions = np.flatnonzero(~repeated)[first_of_code]
    same = pc.equal(pc.take(keys, pa.array(np.flatnonzero(repeated))), pc.take(keys, pa.array(first_positions)))
    return not bool(pc.all(same).as_py())


def _drop_false_matches(index: KeyIndex, values, positions: np.ndarray) -> None:
    """-1 where a value found a key by its code but its bytes differ from that key's."""
    hit = np.flatnonzero(positions >= 0)
    if len(hit) == 0:
        return
    same = pc.equal(pc.take(index.keys, pa.array(positions[hit])), pc.take(binary_array(*values), pa.array(hit)))
    positions[hit[~same.to_numpy(zero_copy_only=False)]] = -1


def _dict_lookup(index: KeyIndex, values) -> np.ndarray:
    if "dict" not in index._kept:
        keys = index.keys.to_pylist()  # built last to first, so a repeated key keeps its first position
        index._kept["dict"] = {keys[position]: position for position in range(len(keys) - 1, -1, -1)}
    positions = index._kept["dict"]
    return np.array([positions.get(value, -1) for value in binary_array(*values).to_pylist()], dtype=np.int64)
