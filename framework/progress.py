"""Progress of long work, for a person: a tqdm bar on a terminal, a plain line every few seconds
elsewhere (CI logs, `raylane submit` job logs), and always a last line at the end.

Example:
    >>> bar = ProgressDisplay("generate", total=1_000_000, unit="rows")
    >>> bar.update(250_000)        # a bar on a terminal; a line at most every 5 s otherwise
    >>> bar.close()
"""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressDisplay"]


class ProgressDisplay:
    """`update(done, note)` with the amount done so far (not an increment). `total` may be None while
    it is not known yet (a stream whose length is learnt at its end); `set_total` gives it later."""

    def __init__(self, desc: str, total: float | None, unit: str = "rows", every_s: float = 5.0, stream=None,
                 unit_scale: bool = False):
        self.desc, self.total, self.unit, self.every_s = desc, total, unit, every_s
        self.stream = stream or sys.stderr
        self.unit_scale = unit_scale
        self.bar = None
        self.done, self.note = 0.0, ""
        self.shown = None  # the amount the last plain line showed
        self.started = self.printed = time.monotonic()

    def _terminal(self) -> bool:
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done: float, note: str = "") -> None:
        self.done, self.note = done, note
        if self._terminal():
            from tqdm import tqdm

            if self.bar is None:
                self.bar = tqdm(total=self.total, unit=self.unit, unit_scale=self.unit_scale, desc=self.desc,
                                file=self.stream, dynamic_ncols=True)
            if note:
                self.bar.set_postfix_str(note, refresh=False)
            self.bar.update(done - self.bar.n)
        elif time.monotonic() - self.printed >= self.every_s and (self.total is None or done < self.total):
            self._line()

    def set_total(self, total: float) -> None:
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def _line(self) -> None:
        self.printed, self.shown = time.monotonic(), self.done
        rate = self.done / max(self.printed - self.started, 1e-9)
        scale, prefix = (1e6, "M") if self.unit_scale else (1, "")
        digits = ",.1f" if self.unit_scale else ",.0f"
        total = "" if self.total is None else f"/{self.total / scale:{digits}}"
        amount = f"{self.done / scale:{digits}}{total} {prefix}{self.unit}"
        speed = f"{rate / 1e6:,.1f} M{self.unit}/s" if self.unit_scale else f"{rate:,.0f} {self.unit}/s"
        note = f", {self.note}" if self.note else ""
        print(f"{self.desc}: {amount} ({speed}{note})", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.done and self.done != self.shown:  # a stream's last line may have shown it all already
            self._line()
