"""`python -m jobs.<kind> CONFIG [key=value ...]`: what every job module's `__main__` does, in one place.
`raylane submit` runs jobs this way on a cluster; the output is the same as the `raylane` command's.

Example (the end of jobs/train.py):
    >>> if __name__ == "__main__":
    ...     sys.exit(run_job("train", main))
"""

from __future__ import annotations

import sys
from typing import Callable

__all__ = ["run_job"]


def run_job(kind: str, main: Callable, argv: list[str] | None = None) -> int:
    """Quiet output (unless RAYLANE_LOG=debug), the config loaded with its overrides, `main(config)`;
    input errors print one message and give the exit status."""
    from framework.cli import run_guarded
    from framework.config import load_config
    from framework.console import Console

    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    Console.setup(verbose_flag=verbose)

    def load_and_run() -> int:
        main(load_config(argv[0], argv[1:], kind=kind)[1])
        return 0

    return run_guarded(load_and_run)
