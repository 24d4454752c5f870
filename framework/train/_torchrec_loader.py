"""TorchRec and FBGEMM imported once, quietly: the one module that loads them.

`framework.train.embeddings.require_torchrec` imports it to check that they load, and `_torchrec`
builds on it; neither imports the other for that.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

__all__ = ["quiet_root_logger"]

# TorchRec and FBGEMM log every kernel they load and every table batch they build (FBGEMM on the root
# logger), and TorchRec warns about its own internals on each step; raylane prints the plan in one line.
for _name in ("torchrec", "fbgemm_gpu", "torch.fx._symbolic_trace"):
    logging.getLogger(_name).setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module=r"torchrec(\..*)?$")
# TorchRec's collectives call torch.distributed APIs that torch 2.13 deprecates, once per step
warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.distributed\.c10d_logger$")


@contextlib.contextmanager
def quiet_root_logger():
    """FBGEMM logs on the root logger (each library it loads, each table batch it builds): raise its level."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


with quiet_root_logger():
    import fbgemm_gpu  # noqa: E402,F401  (logs each library it loads on the root logger)

import torchrec  # noqa: E402,F401
