"""NumPy twins of the GPU kernels: same names, same signatures, same results (see kernels/API.md).

Example:
    >>> import numpy as np
    >>> from kernels import cpu
    >>> cpu.bucketize(np.array([np.nan, 0.5, 2.0]), np.array([1.0]))
    array([0, 1, 2])
"""

from kernels.cpu.lookup import build_key_index, lookup_keys
from kernels.cpu.murmur import murmur3_int64, murmur3_strings
from kernels.cpu.numeric import CLIP, FILL, LOG1P, NOP, SCALE, ZERO, bucketize, numeric_chain
from kernels.cpu.reductions import (
    group_sums,
    merge_moments,
    min_max,
    moments,
    value_counts_int64,
    value_counts_strings,
)

__all__ = [
    "NOP", "FILL", "CLIP", "LOG1P", "SCALE", "ZERO",
    "murmur3_int64", "murmur3_strings", "numeric_chain", "bucketize",
    "build_key_index", "lookup_keys",
    "moments", "merge_moments", "min_max", "value_counts_int64", "value_counts_strings", "group_sums",
]
