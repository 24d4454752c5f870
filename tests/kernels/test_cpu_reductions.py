"""Fit reductions and key lookups (NumPy twins) against NumPy/pandas references."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kernels import cpu
from kernels.cpu.strings import string_buffers


def test_moments_and_chan_merge_match_numpy():
    rng = np.random.default_rng(0)
    values = rng.standard_normal(1001) * 3 + 5
    values[::10] = np.nan
    count, mean, m2 = cpu.moments(values)
    present = values[~np.isnan(values)]
    assert count == len(present)
    assert mean == pytest.approx(present.mean(), rel=1e-14)
    assert m2 == pytest.approx(present.var() * len(present), rel=1e-12)
    merged = cpu.merge_moments(cpu.moments(values[:300]), cpu.moments(values[300:]))
    np.testing.assert_allclose(merged, (count, mean, m2), rtol=1e-12)
    assert cpu.moments(np.array([np.nan])) == (0.0, 0.0, 0.0)
    assert cpu.merge_moments((0.0, 0.0, 0.0), (2.0, 1.0, 0.5)) == (2.0, 1.0, 0.5)


def test_min_max_ignores_nan():
    assert cpu.min_max(np.array([np.nan, 3.0, -2.0])) == (-2.0, 3.0)
    low, high = cpu.min_max(np.array([np.nan]))
    assert np.isnan(low) and np.isnan(high)


def test_value_counts_int64_matches_pandas():
    values = np.array([5, -1, 5, np.iinfo(np.int64).min, 5, 7, 7], dtype=np.int64)
    valid = np.array([True, True, True, True, True, False, True])
    uniques, counts = cpu.value_counts_int64(values, valid)
    expected = pd.Series(values[valid]).value_counts().sort_index()
    np.testing.assert_array_equal(uniques, expected.index.to_numpy())
    np.testing.assert_array_equal(counts, expected.to_numpy())


def test_value_counts_strings_matches_pandas():
    strings = ["b", "", "☃", "b", None, "", "b"]
    array = pa.array(strings).slice(0)
    offsets, data = string_buffers(array)
    valid = np.array([s is not None for s in strings])
    uniq_offsets, uniq_data, counts = cpu.value_counts_strings(offsets, data, valid)
    assert uniq_offsets[0] == 0
    found = {bytes(uniq_data[a:b]).decode(): int(c) for a, b, c in zip(uniq_offsets[:-1], uniq_offsets[1:], counts)}
    assert found == pd.Series([s for s in strings if s is not None]).value_counts().to_dict()


def test_group_sums_is_bincount():
    codes = np.array([0, 2, 2, 1, 0])
    y = np.array([1.0, 0.5, 0.25, 2.0, 3.0])
    counts, sums = cpu.group_sums(codes, y, 4)
    np.testing.assert_array_equal(counts, [2, 1, 2, 0])
    np.testing.assert_array_equal(sums, [4.0, 2.0, 0.75, 0.0])


def test_lookup_int_keys_exact():
    keys = np.array([30, np.iinfo(np.int64).max, -7], dtype=np.int64)
    index = cpu.build_key_index(keys)
    values = np.array([-7, 30, 31, np.iinfo(np.int64).max, np.iinfo(np.int64).min])
    np.testing.assert_array_equal(cpu.lookup_keys(index, values), [2, 0, -1, 1, -1])


def test_lookup_string_keys_exact_and_no_false_match():
    index = cpu.build_key_index(string_buffers(pa.array(["ab", "", "☃"])))
    offsets, data = string_buffers(pa.array(["x", "☃", "", "ab", "abc", "a"], type=pa.large_string()))
    np.testing.assert_array_equal(cpu.lookup_keys(index, (offsets, data)), [-1, 2, 1, 0, -1, -1])


@pytest.mark.parametrize("lookups", [3, 100, 5000], ids=["few-values", "some-values", "many-values"])
def test_lookup_matches_pandas_for_few_and_many_values(lookups):
    # Against 1000 keys: a few strings go through a dict, more through the kept table of codes.
    rng = np.random.default_rng(lookups)
    keys = rng.choice(np.arange(-5000, 5000, dtype=np.int64), size=1000, replace=False)
    keys[:2] = [np.iinfo(np.int64).min, np.iinfo(np.int64).max]
    values = np.concatenate([rng.integers(-6000, 6000, lookups), keys[:2]])
    index = cpu.build_key_index(keys)
    np.testing.assert_array_equal(cpu.lookup_keys(index, values), pd.Index(keys).get_indexer(values))
    np.testing.assert_array_equal(cpu.lookup_keys(index, values), pd.Index(keys).get_indexer(values))  # index reused

    words = pd.Index([format(int(k) & 0xFFFFFFFF, "x") * (int(k) % 3) for k in keys]).unique()
    asked = [format(int(v) & 0xFFFFFFFF, "x") * (int(v) % 3) for v in values]
    string_index = cpu.build_key_index(string_buffers(pa.array(list(words))))
    got = cpu.lookup_keys(string_index, string_buffers(pa.array(asked, type=pa.large_string())))
    np.testing.assert_array_equal(got, words.get_indexer(asked))


def test_lookup_of_strings_never_matches_a_different_string_with_the_same_code(monkeypatch):
    import kernels.cpu.lookup as lookup

    # Every key has its own code (its length), but values of the same length share it.
    monkeypatch.setattr(lookup, "_codes", lambda values: np.diff(np.asarray(values[0], dtype=np.int64)))
    monkeypatch.setattr(lookup, "_DICT_MAX_KEYS", 0)  # the code table, not the dict
    words = ["", "a", "bb", "ccc", "dddd"]
    asked = ["bb", "xx", "ccc", "zzz", "", "a", "eeeee"]
    index = cpu.build_key_index(string_buffers(pa.array(words)))
    got = cpu.lookup_keys(index, string_buffers(pa.array(asked, type=pa.large_string())))
    np.testing.assert_array_equal(got, pd.Index(words).get_indexer(asked))


def test_lookup_of_strings_stays_exact_when_distinct_keys_share_a_code(monkeypatch):
    import kernels.cpu.lookup as lookup

    real = lookup._codes
    monkeypatch.setattr(lookup, "_codes", lambda values: real(values) % 3)
    monkeypatch.setattr(lookup, "_DICT_MAX_KEYS", 0)
    words = [f"w{i}" for i in range(300)]
    asked = ["w7", "nope", "w299", "w0", "", "w7x"] * 30
    index = cpu.build_key_index(string_buffers(pa.array(words)))
    got = cpu.lookup_keys(index, string_buffers(pa.array(asked, type=pa.large_string())))
    np.testing.assert_array_equal(got, pd.Index(words).get_indexer(asked))


def test_lookup_refuses_kind_mismatch():
    with pytest.raises(TypeError):
        cpu.lookup_keys(cpu.build_key_index(np.array([1])), string_buffers(pa.array(["1"])))


def test_group_sums_edge_cases_match_the_gpu_contract():
    import pytest

    from kernels.cpu import group_sums

    counts, sums = group_sums(np.zeros(0, np.int64), np.zeros(0), 3)
    assert counts.dtype == sums.dtype == np.float64 and counts.tolist() == sums.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        group_sums(np.array([0, 2]), np.array([1.0, 1.0]), 2)
