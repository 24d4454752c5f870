"""GPU kernels against their NumPy twins: same inputs through `kernels.cpu.X` and `kernels.X` on CuPy arrays.

Integer outputs must be bit-identical; float outputs agree within 1e-6 relative (FEATURES.md). The GPU
side goes through the public dispatch (`kernels.X`), so these tests also check that CuPy inputs reach
`kernels.gpu` and come back as CuPy arrays.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import kernels
from kernels import cpu
from kernels.cpu.strings import string_buffers

cupy = pytest.importorskip("cupy")

pytestmark = pytest.mark.gpu

INT64_MIN, INT64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
SIZES = [0, 1, 255, 257, 100_003]  # empty, tiny, around the block size, many blocks


def to_gpu(arg):
    if isinstance(arg, tuple):
        return tuple(to_gpu(a) for a in arg)
    return cupy.asarray(arg) if isinstance(arg, np.ndarray) else arg


def to_host(result):
    if isinstance(result, tuple):
        return tuple(to_host(r) for r in result)
    if isinstance(result, cupy.ndarray):
        return result.get()
    if isinstance(result, np.ndarray):
        raise AssertionError("the GPU path returned a NumPy array: dispatch did not reach kernels.gpu")
    return result


def both(name: str, *args):
    """(NumPy twin's result, GPU result copied to the host) for the same inputs."""
    expected = getattr(cpu, name)(*args)
    got = to_host(getattr(kernels, name)(*(to_gpu(a) for a in args)))
    return expected, got


def assert_same(expected, got):
    """Bit-identical arrays: same dtype, shape and values."""
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_array_equal(got, expected)


def random_ints(n: int, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).integers(INT64_MIN, INT64_MAX, size=n, dtype=np.int64, endpoint=True)
    edge = np.array([0, 1, -1, INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1, 2**32, -(2**32)], dtype=np.int64)
    values[: min(n, len(edge))] = edge[: min(n, len(edge))]
    return values


def string_column(n: int, seed: int = 0, large: bool = False, sliced: bool = False):
    """(offsets, data) of n strings: empty, unicode, every tail length, some long, some repeated."""
    rng = np.random.default_rng(seed)
    special = ["", "a", "ab", "abc", "abcd", "abcde", "é", "日本語", "🙂🙃", "a\x00b", "x" * 1000, "ab"]
    pool = special + [f"v{int(i)}" * int(rng.integers(1, 4)) for i in rng.integers(0, max(1, n // 3), size=64)]
    words = [pool[int(i)] for i in rng.integers(0, len(pool), size=n + 7)]
    array = pa.array(words, type=pa.large_string() if large else pa.string())
    array = array.slice(5, n) if sliced else array.slice(0, n)
    return string_buffers(array)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed_kind", ["zero", "max", "per_row"])
def test_murmur3_int64(n, seed_kind):
    values = random_ints(n)
    seeds = {"zero": 0, "max": 2**32 - 1, "per_row": np.arange(n, dtype=np.uint32) * np.uint32(2654435761)}[seed_kind]
    assert_same(*both("murmur3_int64", values, seeds))


def test_murmur3_int64_matches_sklearn():
    from sklearn.utils import murmurhash3_32

    values = random_ints(64)
    got = kernels.murmur3_int64(cupy.asarray(values), 42).get()
    expected = [murmurhash3_32(int(v).to_bytes(8, "little", signed=True), seed=42, positive=True) for v in values]
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.uint32))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("sliced", [False, True])
def test_murmur3_strings(n, large, sliced):
    offsets, data = string_column(n, large=large, sliced=sliced)
    assert offsets.dtype == (np.int64 if large else np.int32)
    assert_same(*both("murmur3_strings", offsets, data, 7))
    seeds = np.random.default_rng(1).integers(0, 2**32, size=n, dtype=np.uint32)
    assert_same(*both("murmur3_strings", offsets, data, seeds))


def test_murmur3_strings_matches_sklearn():
    from sklearn.utils import murmurhash3_32

    offsets, data = string_column(200, sliced=True)
    got = kernels.murmur3_strings(cupy.asarray(offsets), cupy.asarray(data), 0).get()
    rows = [bytes(data[offsets[i] : offsets[i + 1]]) for i in range(200)]
    np.testing.assert_array_equal(got, [murmurhash3_32(r, seed=0, positive=True) for r in rows])


NAN, INF = np.nan, np.inf
SPECIAL_FLOATS = [NAN, INF, -INF, -1.0, -1.5, -0.999, -0.0, 0.0, 1e-310, 1e300, -1e300, 3.4e38, 0.1, 7.0]
PROGRAMS = {
    "criteo": [[1, 0.0, 0.0], [2, 0.0, INF], [3, 0.0, 0.0], [4, 1.5, 0.7]],
    "fill": [[1, 2.5, 0.0]],
    "clip": [[2, -0.5, 3.0]],
    "clip_unbounded": [[2, -INF, INF]],
    "log1p": [[3, 0.0, 0.0]],
    "scale": [[4, 0.1, 3.0]],
    "scale_by_zero": [[4, 0.0, 0.0]],
    "zero": [[5, 0.0, 0.0]],
    "nop_between": [[0, 9.0, 9.0], [1, -1.0, 0.0], [0, 0.0, 0.0], [3, 0.0, 0.0], [0, 0.0, 0.0]],
    "empty": [],
}


def numeric_program(names: list[str]) -> np.ndarray:
    k = max(1, max(len(PROGRAMS[name]) for name in names))
    program = np.zeros((len(names), k, 3), dtype=np.float64)
    for column, name in enumerate(names):
        if PROGRAMS[name]:
            program[column, : len(PROGRAMS[name])] = PROGRAMS[name]
    return program


def numeric_values(c: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(2.0, 3.0, size=(c, n)) * rng.choice([-1.0, 1.0], size=(c, n))
    values[rng.random((c, n)) < 0.1] = np.nan
    for row in values:
        row[: min(n, len(SPECIAL_FLOATS))] = SPECIAL_FLOATS[: min(n, len(SPECIAL_FLOATS))]
    return values


def assert_close_float32(expected, got):
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0.0, equal_nan=True)


@pytest.mark.parametrize("n", SIZES)
def test_numeric_chain_all_programs(n):
    names = list(PROGRAMS)
    with np.errstate(all="ignore"):
        assert_close_float32(*both("numeric_chain", numeric_values(len(names), n), numeric_program(names)))


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_numeric_chain_each_program(name):
    with np.errstate(all="ignore"):
        assert_close_float32(*both("numeric_chain", numeric_values(2, 5000, seed=3), numeric_program([name, name])))


def test_numeric_chain_program_may_stay_on_host():
    values, program = numeric_values(1, 1000), numeric_program(["criteo"])
    with np.errstate(all="ignore"):
        expected = cpu.numeric_chain(values, program)
    got = kernels.numeric_chain(cupy.asarray(values), program).get()
    assert_close_float32(expected, got)


def test_numeric_chain_rejects_unknown_opcode():
    with pytest.raises(ValueError, match="opcode"):
        kernels.numeric_chain(cupy.zeros((1, 4)), cupy.asarray([[[9.0, 0.0, 0.0]]]))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("num_edges", [0, 1, 7, 1000])
def test_bucketize(n, num_edges):
    rng = np.random.default_rng(num_edges)
    edges = np.unique(rng.normal(size=num_edges)) if num_edges > 1 else np.zeros(num_edges)
    values = rng.normal(size=n) * 2
    values[rng.random(n) < 0.1] = np.nan
    specials = np.concatenate([[NAN, INF, -INF], edges[:5]])  # exact edges land right of them
    values[: min(n, len(specials))] = specials[: min(n, len(specials))]
    assert_same(*both("bucketize", values, edges))


def lookup_both(keys, values):
    expected = cpu.lookup_keys(cpu.build_key_index(keys), values)
    got = kernels.lookup_keys(kernels.build_key_index(to_gpu(keys)), to_gpu(values))
    assert isinstance(got, cupy.ndarray)
    return expected, got.get()


@pytest.mark.parametrize("k", [0, 1, 1000, 300_000])
@pytest.mark.parametrize("n", [0, 257, 100_003])
def test_lookup_int64(k, n):
    keys = np.unique(random_ints(k, seed=k))
    np.random.default_rng(k).shuffle(keys)
    rng = np.random.default_rng(n)
    present = keys[rng.integers(0, len(keys), size=n)] if len(keys) else np.zeros(n, dtype=np.int64)
    values = np.where(rng.random(n) < 0.7, present, random_ints(n, seed=n + 1))
    values[: min(n, 3)] = [INT64_MIN, INT64_MAX, 0][: min(n, 3)]
    assert_same(*lookup_both(keys, values))


@pytest.mark.parametrize("k", [0, 1, 50, 20_000])
@pytest.mark.parametrize("values_large", [False, True])
def test_lookup_strings(k, values_large):
    words = [""] + ["é", "日本語", "🙂", "a", "ab", "abc", "abcd", "abcde", "a\x00"] + [f"key-{i}" for i in range(k)]
    keys = string_buffers(pa.array(words[:k], type=pa.large_string()).slice(0, k))
    probe = words + [f"absent-{i}" for i in range(300)] + ["a\x00\x00", "abcdef", "ke", "key-"]
    rng = np.random.default_rng(k)
    chosen = [probe[int(i)] for i in rng.integers(0, len(probe), size=5000)]
    values = string_buffers(pa.array(chosen, type=pa.large_string() if values_large else pa.string()).slice(3))
    assert_same(*lookup_both(keys, values))


def test_lookup_int64_huge_vocabulary():
    rng = np.random.default_rng(5)
    keys = rng.permutation(np.arange(4_000_000, dtype=np.int64) * 7919 - 2**40)
    values = np.where(rng.random(1_000_000) < 0.5, keys[rng.integers(0, len(keys), size=1_000_000)],
                      rng.integers(-(2**41), 2**41, size=1_000_000))
    assert_same(*lookup_both(keys, values))


def test_lookup_repeated_keys_resolve_to_the_first_position():
    # The API promises distinct keys; with repeats both backends still agree (first occurrence wins).
    assert_same(*lookup_both(np.array([7, 3, 7, 3, 9], dtype=np.int64), np.array([3, 7, 9, 1], dtype=np.int64)))
    keys = string_buffers(pa.array(["b", "a", "b", "", "a", ""]))
    assert_same(*lookup_both(keys, string_buffers(pa.array(["a", "b", "c", ""]))))


def test_lookup_kind_mismatch_is_an_error():
    index = kernels.build_key_index(cupy.arange(5, dtype=cupy.int64))
    offsets, data = string_column(4)
    with pytest.raises(TypeError):
        kernels.lookup_keys(index, (cupy.asarray(offsets), cupy.asarray(data)))


def assert_moments_close(expected, got):
    assert got[0] == expected[0]
    np.testing.assert_allclose(got[1:], expected[1:], rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("loc", [0.0, 1e6])
def test_moments(n, loc):
    values = np.random.default_rng(n).normal(loc, 3.0, size=n)
    values[np.random.default_rng(1).random(n) < 0.2] = np.nan
    expected, got = both("moments", values)
    assert all(isinstance(v, float) for v in got)
    assert_moments_close(expected, got)


@pytest.mark.parametrize("values", [[], [np.nan] * 300, [5.0], [np.nan, -2.0, np.nan]])
def test_moments_edge_cases(values):
    assert_moments_close(*both("moments", np.array(values, dtype=np.float64)))


@pytest.mark.parametrize(
    "values",
    [[], [np.nan] * 300, [3.0], [np.nan, INF, -1.0], [-INF, np.nan, 2.0], list(np.random.default_rng(0).normal(size=100_003))],
)
def test_min_max(values):
    expected, got = both("min_max", np.array(values, dtype=np.float64))
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("n", SIZES)
def test_value_counts_int64(n):
    rng = np.random.default_rng(n)
    values = np.concatenate([random_ints(9), rng.integers(-50, 50, size=n)])[:n]
    valid = rng.random(n) < 0.8
    expected, got = both("value_counts_int64", values, valid)
    for e, g in zip(expected, got):
        assert_same(e, g)


def test_value_counts_int64_none_valid():
    expected, got = both("value_counts_int64", random_ints(100), np.zeros(100, dtype=bool))
    assert len(got[0]) == len(got[1]) == 0 and got[0].dtype == got[1].dtype == np.int64


def string_counts(offsets, data, counts) -> dict[bytes, int]:
    assert offsets.dtype == np.int64 and offsets[0] == 0 and counts.dtype == np.int64
    assert len(offsets) == len(counts) + 1 and offsets[-1] == len(data)
    result = {bytes(data[offsets[i] : offsets[i + 1]]): int(counts[i]) for i in range(len(counts))}
    assert len(result) == len(counts), "a value is listed twice"
    return result


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("large", [False, True])
def test_value_counts_strings(n, large):
    offsets, data = string_column(n, seed=n, large=large, sliced=True)
    valid = np.random.default_rng(n).random(n) < 0.8
    expected, got = both("value_counts_strings", offsets, data, valid)
    assert string_counts(*got) == string_counts(*expected)


def test_value_counts_strings_high_cardinality():
    words = [f"{i:08x}" for i in np.random.default_rng(0).integers(0, 200_000, size=300_000)]
    offsets, data = string_buffers(pa.array(words))
    valid = np.ones(len(words), dtype=bool)
    expected, got = both("value_counts_strings", offsets, data, valid)
    assert string_counts(*got) == string_counts(*expected)


@pytest.mark.parametrize("num_groups", [1, 100, 2048, 2049, 50_000])
@pytest.mark.parametrize("n", [0, 1, 100_003])
def test_group_sums(num_groups, n):
    rng = np.random.default_rng(num_groups)
    codes = rng.zipf(1.5, size=n).astype(np.int64) % num_groups  # skewed: a few hot groups
    labels = (rng.random(n) < 0.3).astype(np.float64)
    expected, got = both("group_sums", codes, labels, num_groups)
    for e, g in zip(expected, got):  # 0/1 labels sum exactly, so even the atomic sums are bit-identical
        assert g.dtype == np.float64 and g.shape == (num_groups,)
        np.testing.assert_array_equal(g, e)
    y = rng.normal(5.0, 1.0, size=n)  # positive: relative error of any summation order stays ~1e-13
    (e_counts, e_sums), (g_counts, g_sums) = both("group_sums", codes, y, num_groups)
    np.testing.assert_array_equal(g_counts, e_counts)
    np.testing.assert_allclose(g_sums, e_sums, rtol=1e-12)


def test_group_sums_rejects_codes_out_of_range():
    with pytest.raises(ValueError, match="num_groups|\\[0"):
        kernels.group_sums(cupy.asarray([0, 3]), cupy.asarray([1.0, 1.0]), 3)


def test_to_device_round_trip_and_reuse():
    from kernels.gpu.transfer import to_device

    rng = np.random.default_rng(0)
    for n in (5, 3_000_000, 17):  # grows the pinned buffer, then reuses it
        columns = [
            rng.integers(0, 10, size=n).astype(np.int64),
            rng.random((3, n)).astype(np.float32),
            rng.random(n) < 0.5,
            rng.integers(0, 255, size=n + 3).astype(np.uint8),
            np.zeros(0, dtype=np.float64),
            rng.random(2 * n)[::2],  # strided: packed on the way
        ]
        moved = to_device(columns)
        assert len(moved) == len(columns)
        for column, array in zip(columns, moved):
            assert isinstance(array, cupy.ndarray)
            assert array.dtype == column.dtype and array.shape == column.shape
            np.testing.assert_array_equal(array.get(), column)
