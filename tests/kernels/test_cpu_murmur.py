"""The NumPy MurmurHash3 twins against sklearn's reference implementation."""

import numpy as np
import pyarrow as pa
import pytest
from sklearn.utils import murmurhash3_32

from kernels import cpu
from kernels.cpu.strings import string_buffers

INT64 = np.iinfo(np.int64)


def _reference_int(values, seeds):
    seeds = np.broadcast_to(np.asarray(seeds, dtype=np.uint32), values.shape)
    return np.array(
        [murmurhash3_32(int(v).to_bytes(8, "little", signed=True), seed=int(s), positive=True) for v, s in zip(values, seeds)],
        dtype=np.uint32,
    )


def _reference_bytes(strings, seeds):
    seeds = np.broadcast_to(np.asarray(seeds, dtype=np.uint32), (len(strings),))
    return np.array([murmurhash3_32(b, seed=int(s), positive=True) for b, s in zip(strings, seeds)], dtype=np.uint32)


def _random_strings(rng, count):
    alphabet = ["a", "Z", "0", "é", "ß", "☃", "日本", "🙂", " "]
    return [("".join(rng.choice(alphabet, size=rng.integers(0, 23)))) for _ in range(count)]


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, "per-row"])
def test_int64_matches_sklearn(seed):
    rng = np.random.default_rng(0)
    values = rng.integers(INT64.min, INT64.max, size=300, dtype=np.int64)
    values[:5] = [INT64.min, INT64.max, 0, -1, 1]
    seeds = rng.integers(0, 2**32, size=300).astype(np.uint32) if seed == "per-row" else np.uint32(seed)
    np.testing.assert_array_equal(cpu.murmur3_int64(values, seeds), _reference_int(values, seeds))


@pytest.mark.parametrize("seed", [0, 7, "per-row"])
def test_strings_match_sklearn_any_length_and_unicode(seed):
    rng = np.random.default_rng(1)
    strings = ["", "a", "ab", "abc", "abcd", "abcde", "x" * 64] + _random_strings(rng, 300)
    seeds = rng.integers(0, 2**32, size=len(strings)).astype(np.uint32) if seed == "per-row" else np.uint32(seed)
    offsets, data = string_buffers(pa.array(strings))
    expected = _reference_bytes([s.encode() for s in strings], seeds)
    np.testing.assert_array_equal(cpu.murmur3_strings(offsets, data, seeds), expected)


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string()])
def test_strings_from_sliced_arrays_with_nonzero_first_offset(arrow_type):
    strings = ["skip", "me", "héllo", "", "wörld☃", "abcdefgh"]
    offsets, data = string_buffers(pa.array(strings, type=arrow_type).slice(2))
    assert offsets[0] > 0
    expected = _reference_bytes([s.encode() for s in strings[2:]], 42)
    np.testing.assert_array_equal(cpu.murmur3_strings(offsets, data, 42), expected)


def test_fixed_width_fast_path_matches_sklearn():
    strings = [f"{v:08x}" for v in range(1000)]
    offsets, data = string_buffers(pa.array(strings))
    np.testing.assert_array_equal(cpu.murmur3_strings(offsets, data, 0), _reference_bytes([s.encode() for s in strings], 0))


def test_empty_inputs():
    assert cpu.murmur3_int64(np.zeros(0, np.int64), 0).shape == (0,)
    assert cpu.murmur3_strings(np.zeros(1, np.int64), np.zeros(0, np.uint8), 0).shape == (0,)
