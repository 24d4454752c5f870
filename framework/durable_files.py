"""Files and directories that survive a crash whole or not at all: durable writes, fsynced
directories, and an atomic swap of two directories (Linux renameat2 RENAME_EXCHANGE). Batch scoring's
commit and the CSV import's publish both build on these.

Example:
    >>> write_durably(run / "manifest.json", body)                              # doctest: +SKIP
    >>> move_into_place(staged, final, aside)                                   # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

__all__ = ["exchange_directories", "fsync_directory", "move_into_place", "write_durably"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def fsync_directory(path: Path) -> None:
    """Make a rename or a new file in `path` survive a power cut, not only a process crash."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_durably(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a temporary name, fsync, then an atomic rename over `path`."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


def exchange_directories(first: Path, second: Path) -> bool:
    """Swap two directories atomically; False where the kernel or filesystem cannot."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, f"cannot exchange {first} and {second}: {os.strerror(code)}")


def move_into_place(staged: Path, final: Path, aside: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        os.rename(staged, final)
    elif exchange_directories(staged, final):
        pass  # `staged` now holds the previous run
    else:
        os.rename(final, aside)
        os.rename(staged, final)
    fsync_directory(final.parent)
