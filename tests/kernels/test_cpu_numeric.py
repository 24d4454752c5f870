"""numeric_chain and bucketize (NumPy twins) against step-by-step NumPy references."""

import numpy as np
import pytest

from kernels import cpu

NAN, INF = np.nan, np.inf


def _round(x):
    return x.astype(np.float32).astype(np.float64)


def _reference(values, program):
    """The API.md semantics written out one step at a time."""
    out = []
    for column, steps in zip(values, program):
        x = column.copy()
        for opcode, a, b in steps:
            if opcode == cpu.FILL:
                x = np.where(np.isnan(x), a, x)
            elif opcode == cpu.CLIP:
                x = np.clip(x, a, b)
            elif opcode == cpu.LOG1P:
                with np.errstate(invalid="ignore", divide="ignore"):
                    x = np.where(x <= -1, NAN, np.log1p(x))
            elif opcode == cpu.SCALE:
                x = (x - a) / b
            elif opcode == cpu.ZERO:
                x = np.where(np.isnan(x), NAN, 0.0)
            if opcode != cpu.NOP:
                x = _round(x)
        out.append(x.astype(np.float32))
    return np.stack(out)


def test_every_opcode_matches_reference():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((5, 1000)) * 10
    values[:, ::9] = NAN
    values[:, 1] = -1.0
    program = np.array([
        [[cpu.FILL, 0.5, 0], [cpu.CLIP, 0, INF], [cpu.LOG1P, 0, 0], [cpu.SCALE, 0.7, 1.3]],
        [[cpu.CLIP, -INF, 2.0], [cpu.NOP, 0, 0], [cpu.NOP, 0, 0], [cpu.NOP, 0, 0]],
        [[cpu.LOG1P, 0, 0], [cpu.FILL, -3.0, 0], [cpu.NOP, 0, 0], [cpu.NOP, 0, 0]],
        [[cpu.ZERO, 0, 0], [cpu.NOP, 0, 0], [cpu.NOP, 0, 0], [cpu.NOP, 0, 0]],
        [[cpu.NOP, 0, 0], [cpu.NOP, 0, 0], [cpu.NOP, 0, 0], [cpu.NOP, 0, 0]],
    ], dtype=np.float64)
    result = cpu.numeric_chain(values, program)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, _reference(values, program))


def test_rounds_to_float32_after_every_step():
    # 1 + 2^-30 is lost when rounded to float32 before subtracting 1.
    values = np.array([[1.0 + 2.0**-30]])
    program = np.array([[[cpu.CLIP, -INF, INF], [cpu.SCALE, 1.0, 2.0**-30]]])
    assert cpu.numeric_chain(values, program)[0, 0] == 0.0


def test_first_step_reads_float64_input():
    values = np.array([[2.0**40 + 1.0]])
    program = np.array([[[cpu.SCALE, 2.0**40, 1.0]]])
    assert cpu.numeric_chain(values, program)[0, 0] == 1.0


def test_many_chunks_and_empty_columns():
    values = np.arange(100_000, dtype=np.float64)[None, :]
    program = np.array([[[cpu.SCALE, 0.0, 2.0]]])
    np.testing.assert_array_equal(cpu.numeric_chain(values, program)[0], (values[0] / 2).astype(np.float32))
    assert cpu.numeric_chain(np.zeros((2, 0)), np.zeros((2, 1, 3))).shape == (2, 0)


def test_bucketize_matches_digitize():
    rng = np.random.default_rng(2)
    values = rng.standard_normal(1000)
    values[::7] = NAN
    values[1] = 0.5  # exactly on an edge: goes to the right bucket
    edges = np.array([-1.0, 0.0, 0.5, 2.0])
    expected = np.where(np.isnan(values), 0, np.digitize(values, edges) + 1)
    np.testing.assert_array_equal(cpu.bucketize(values, edges), expected)
    assert cpu.bucketize(values, edges).dtype == np.int64


def test_bucketize_without_edges_puts_everything_in_bucket_one():
    np.testing.assert_array_equal(cpu.bucketize(np.array([NAN, -5.0, 5.0]), np.zeros(0)), [0, 1, 1])


def test_unknown_opcode_is_refused():
    with pytest.raises(ValueError, match="opcode"):
        cpu.numeric_chain(np.zeros((1, 3)), np.array([[[9.0, 0, 0]]]))


def test_threads_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(5)
    values = rng.standard_normal((6, 70_000))
    program = np.tile(np.array([[cpu.LOG1P, 0, 0], [cpu.SCALE, 0.25, 3.0]]), (6, 1, 1))
    monkeypatch.setenv("RAYLANE_CPU_THREADS", "1")
    single = cpu.numeric_chain(values, program)
    monkeypatch.setenv("RAYLANE_CPU_THREADS", "4")
    np.testing.assert_array_equal(cpu.numeric_chain(values, program), single)
