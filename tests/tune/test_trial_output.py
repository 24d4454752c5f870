"""A sweep trial trains quietly: the driver's `[sweep] trial N epoch E` lines tell its story, so the
training loop's own step and epoch lines stay off the terminal; a plain training run keeps them."""

from __future__ import annotations

from framework.console import is_raylane_line
from framework.train.loop import LoopSettings, _printer
from framework.tune.trial import _setup_lines_to_log, _trial_settings

SETTINGS = dict(model_config={}, num_continuous=1, cardinalities=[2], optim={"epochs": 1}, seed=0, steps_per_epoch=1)


def test_trial_loops_turn_the_loops_lines_off():
    assert LoopSettings(**SETTINGS).print_lines
    assert not _trial_settings(LoopSettings(**SETTINGS).to_dict()).print_lines


def test_only_rank_0_of_a_plain_run_prints(capsys):
    _printer(LoopSettings(**SETTINGS), rank=0)("[train] epoch 1/1: auc 0.7")
    _printer(LoopSettings(**SETTINGS), rank=1)("[train] epoch 1/1: auc 0.7")
    _printer(_trial_settings(SETTINGS), rank=0)("[train] epoch 1/1 step 50 loss 0.5")
    assert capsys.readouterr().out == "[train] epoch 1/1: auc 0.7\n"


def test_a_trials_setup_lines_are_marked_for_the_log(capsys):
    with _setup_lines_to_log("a1b2"):
        print("[train] embedding tables: 27 (0.8 MiB of weights)")
    out = capsys.readouterr().out.splitlines()
    assert out == ["(trial a1b2) [train] embedding tables: 27 (0.8 MiB of weights)"]
    assert not is_raylane_line(out[0])  # the driver's console sends it to the log file
