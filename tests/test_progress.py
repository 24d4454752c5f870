"""Progress for a person: plain lines (at most every `every_s`, and a last one) when the output is not a
terminal; a tqdm bar when it is."""

from __future__ import annotations

import io

from framework.progress import ProgressDisplay


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_off_a_terminal_and_a_last_line_at_the_end():
    stream = io.StringIO()
    display = ProgressDisplay("generate", total=1000, unit="rows", every_s=3600, stream=stream)
    for done in (250, 500, 750, 1000):
        display.update(done)
    assert stream.getvalue() == ""  # not yet every_s
    display.close()
    assert stream.getvalue().startswith("generate: 1,000/1,000 rows (") and stream.getvalue().count("\n") == 1


def test_a_bar_on_a_terminal():
    stream = _Terminal()
    display = ProgressDisplay("score", total=100, unit="rows", stream=stream)
    display.update(40, "3 rejected")
    display.update(100)
    display.close()
    assert "score" in stream.getvalue() and "100/100" in stream.getvalue() and "\r" in stream.getvalue()


def test_a_total_not_known_up_front_counts_then_learns_it():
    stream = io.StringIO()
    display = ProgressDisplay("[features] fit", total=None, unit="rows", every_s=0, stream=stream)
    display.update(300)
    assert stream.getvalue().startswith("[features] fit: 300 rows (")
    display.set_total(600)
    display.update(600)
    display.close()
    assert stream.getvalue().splitlines()[-1].startswith("[features] fit: 600/600 rows (")


def test_a_stream_whose_last_line_showed_everything_is_not_repeated_at_close():
    stream = io.StringIO()
    display = ProgressDisplay("fit", total=None, unit="rows", every_s=0.0, stream=stream)
    display.update(500)
    display.update(1000)
    display.set_total(1000)
    display.close()
    lines = stream.getvalue().splitlines()
    assert [line.split(":")[1].split("(")[0].strip() for line in lines] == ["500 rows", "1,000 rows"]
