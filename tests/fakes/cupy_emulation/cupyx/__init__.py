"""`cupyx` for the CuPy emulation (see `cupy/__init__.py` next door): pinned host memory is plain host memory."""

import numpy as _np


def empty_pinned(shape, dtype=float, order="C"):
    """A host array; real CuPy page-locks it for fast transfers, which means nothing here."""
    return _np.empty(shape, dtype=dtype, order=order)
