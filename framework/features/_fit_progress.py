"""Progress of a pipeline fit, for a person: rows fitted so far, one display per pass over the data.

A fit makes one pass per fit stage (`_plan.fit_stages`). Each pass shows a `framework.progress`
display: a bar on a terminal, plain lines (and a last one) elsewhere. Its total is the row count when
it is known up front (an Arrow table, Parquet footers, or an earlier pass), and learnt at its end
otherwise (a Ray Dataset streamed through its first pass).

Example:
    >>> progress = FitProgress(passes=1, rows=1_000, show=True)   # doctest: +SKIP
    >>> progress.start_pass(0); progress.add(1_000); progress.finish_pass()   # doctest: +SKIP
    [features] fit: 1,000/1,000 rows (52,000 rows/s)
"""

from __future__ import annotations

__all__ = ["FitProgress", "shows_progress"]


def shows_progress() -> bool:
    """Whether a fit shows its progress by default: when an entry point (the CLI, a job) chose the
    terminal's output (`framework.console.Console.setup`). Library use (tests, notebooks, Ray
    workers) stays silent unless it asks."""
    from framework.console import Console

    return Console.active


class FitProgress:
    """`start_pass(number)`, `add(rows)` as batches are fitted, `finish_pass()`; silent unless `show`."""

    def __init__(self, passes: int, rows: int | None = None, show: bool = False):
        self.passes, self.rows, self.show = passes, rows, show
        self.display = None
        self.done = 0

    def start_pass(self, number: int) -> None:
        self.done = 0
        if not self.show:
            return
        from framework.progress import ProgressDisplay

        desc = "[features] fit" if self.passes == 1 else f"[features] fit, pass {number + 1}/{self.passes}"
        self.display = ProgressDisplay(desc, total=self.rows, unit="rows")

    def add(self, rows: int) -> None:
        self.done += rows
        if self.display is not None:
            self.display.update(self.done)

    def finish_pass(self) -> None:
        """The pass is over: its row count is the total of every later pass."""
        self.rows = self.done
        if self.display is not None:
            self.display.set_total(self.done)
            self.display.close()
            self.display = None
