"""Arrow binary arrays ↔ the (offsets, data) pairs that the kernels take, without copying bytes.

Example:
    >>> import pyarrow as pa
    >>> offsets, data = string_buffers(pa.array(["ab", "c"]))
    >>> offsets.tolist(), bytes(data)
    ([0, 2, 3], b'abc')
    >>> binary_array(offsets, data).to_pylist()
    [b'ab', b'c']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["binary_array", "string_buffers"]

_OFFSET_TYPES = {
    pa.string(): np.int32,
    pa.binary(): np.int32,
    pa.large_string(): np.int64,
    pa.large_binary(): np.int64,
}


def binary_array(offsets: np.ndarray, data: np.ndarray) -> pa.Array:
    """A large_binary Arrow array over the given buffers (copies only to widen int32 offsets)."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.large_binary(), len(offsets) - 1, buffers)


def string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets[n+1], data) views of a string/binary array; offsets may start above zero."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offset_type = _OFFSET_TYPES.get(array.type)
    if offset_type is None:
        raise TypeError(f"string_buffers: expected a string or binary array, got {array.type}")
    _, offsets_buffer, data_buffer = array.buffers()
    if offsets_buffer is None or len(array) == 0:
        return np.zeros(len(array) + 1, dtype=offset_type), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return offsets, data
