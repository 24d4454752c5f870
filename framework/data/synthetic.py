"""Synthetic Criteo-like data with a planted click model.

Rows are generated in fixed blocks of `BLOCK_ROWS`, each from its own random stream keyed by
(seed, block), so row i is the same whatever the number of files or days. `p_true` is the
planted click probability; the AUC of `p_true` against `label` is the Bayes-optimal AUC.

Example:
    >>> table = generate_table(10_000, seed=7)
    >>> table.num_rows
    10000
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from framework.data._synthetic_spec import (
    BIAS,
    BLOCK_ROWS,
    CATEGORICAL,
    INT_VALUE_MULTIPLIER,
    INTERACTION,
    NUMERIC,
    NUMERIC_CENTERS,
    USER_COUNT,
    CategoricalSpec,
    HiddenModel,
    hidden_model,
)

__all__ = ["BLOCK_ROWS", "generate_block", "generate_table", "synthetic_schema"]

# byte value → its two hex digits, as one little-endian uint16
_HEX_PAIRS = np.array([ord(f"{b:02x}"[0]) | ord(f"{b:02x}"[1]) << 8 for b in range(256)], dtype=np.uint16)


def synthetic_schema() -> pa.Schema:
    """The Arrow schema of generated rows (event_date included)."""
    fields = [pa.field("id", pa.int64(), nullable=False), pa.field("event_date", pa.date32(), nullable=False)]
    fields.append(pa.field("label", pa.int8(), nullable=False))
    fields += [pa.field(s.name, pa.int64()) for s in NUMERIC]
    fields += [pa.field(s.name, pa.string() if s.is_string else pa.int64()) for s in CATEGORICAL]
    fields.append(pa.field("p_true", pa.float64(), nullable=False))
    fields.append(pa.field("user_email", pa.string(), nullable=False))
    return pa.schema(fields)


def _validity(valid: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _int64_column(values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    if valid is None:
        return pa.array(values, type=pa.int64())
    return pa.Array.from_buffers(pa.int64(), len(values), [_validity(valid), pa.py_buffer(values)])


def _hex_strings(codes: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Eight lowercase hex digits per value, built straight into Arrow buffers."""
    data = _HEX_PAIRS[codes.astype(">u4").view(np.uint8)].view(np.uint8)
    offsets = np.arange(0, 8 * len(codes) + 1, 8, dtype=np.int32)
    buffers = [_validity(valid), pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(codes), buffers)


def _zipf_ranks(uniform: np.ndarray, cardinality: int, exponent: float) -> np.ndarray:
    """Inverse CDF of a bounded power law on [1, cardinality], as 0-based ranks."""
    one_minus_s = np.float32(1.0 - exponent)
    span = np.float32(cardinality) ** one_minus_s - np.float32(1.0)
    ranks = np.power(span * uniform + np.float32(1.0), np.float32(1.0) / one_minus_s)
    return np.minimum(ranks.astype(np.int64) - 1, cardinality - 1)


def _value_codes(ranks: np.ndarray, column_index: int) -> np.ndarray:
    """A bijection rank → 32-bit code, different per column, so values look like ids.
    uint32 arithmetic wraps modulo 2**32 by itself."""
    salt = np.uint32(0x5BD1E995 * (column_index + 1) & 0xFFFFFFFF)
    return ranks.astype(np.uint32) * np.uint32(INT_VALUE_MULTIPLIER) + salt


def _numeric_columns(rng, rows: int, model: HiddenModel, logit: np.ndarray) -> list[pa.Array]:
    columns = []
    for index, spec in enumerate(NUMERIC):
        uniform = rng.random(rows, dtype=np.float32)
        gate = rng.random(rows, dtype=np.float32)
        null_rate = model.null_rates[index]
        with np.errstate(divide="ignore"):  # uniform can be 0: the count is capped just below
            tail = np.power(uniform, np.float32(-1.0 / spec.alpha)) - np.float32(1.0)
        counts = np.minimum(np.float32(model.numeric_scales[index]) * tail, np.float32(2.0**40))
        values = counts.astype(np.int64)
        negative = (gate >= null_rate) & (gate < null_rate + spec.negative_rate)
        if spec.negative_rate:
            values[negative] = -1 - ((gate[negative] - null_rate) / spec.negative_rate * 3).astype(np.int64)
        valid = gate >= null_rate
        effect = np.float32(model.numeric_weights[index] * 0.5) * (np.log1p(counts) - NUMERIC_CENTERS[index])
        logit += np.where(valid, effect, np.float32(model.numeric_missing[index]))
        columns.append(_int64_column(values, valid))
    return columns


def _categorical_column(rng, rows: int, index: int, spec: CategoricalSpec, model: HiddenModel):
    uniform = rng.random(rows, dtype=np.float32)
    gate = rng.random(rows, dtype=np.float32)
    ranks = _zipf_ranks(uniform, spec.cardinality, spec.zipf_exponent) + model.rank_shifts[index]
    valid = gate >= model.null_rates[len(NUMERIC) + index]
    codes = _value_codes(ranks, index)
    array = _hex_strings(codes, valid) if spec.is_string else _int64_column(codes.astype(np.int64), valid)
    return array, ranks, valid


def _categorical_columns(rng, rows: int, model: HiddenModel, logit: np.ndarray) -> list[pa.Array]:
    columns, ranks_by_name = [], {}
    for index, spec in enumerate(CATEGORICAL):
        array, ranks, valid = _categorical_column(rng, rows, index, spec, model)
        if spec.effect_scale:
            effects = model.effects[spec.name]
            logit += np.where(valid, effects[ranks], effects[-1])
        ranks_by_name[spec.name] = (ranks, valid)
        columns.append(array)
    (left, left_valid), (right, right_valid) = (ranks_by_name[name] for name in INTERACTION)
    both = left_valid & right_valid
    logit += np.where(both, model.interaction[left % 64, right % 64], 0.0)
    return columns


def _emails(rng, rows: int) -> pa.Array:
    users = pc.cast(pa.array(rng.integers(0, USER_COUNT, rows)), pa.string())
    return pc.binary_join_element_wise("user", users, "@example.com", "")


@lru_cache(maxsize=8)
def _cached_block(seed: int, block: int, drift: float) -> pa.Table:
    return generate_block(seed, block, drift)


def generate_block(seed: int, block: int, drift: float = 0.0) -> pa.Table:
    """Rows [block * BLOCK_ROWS, (block + 1) * BLOCK_ROWS), without event_date."""
    rng = np.random.default_rng([seed, block])
    model = hidden_model(seed, float(drift))
    rows = BLOCK_ROWS
    logit = np.full(rows, BIAS)
    numeric = _numeric_columns(rng, rows, model, logit)
    categorical = _categorical_columns(rng, rows, model, logit)
    p_true = 1.0 / (1.0 + np.exp(-logit))
    label = (rng.random(rows) < p_true).astype(np.int8)
    ids = np.arange(block * rows, (block + 1) * rows, dtype=np.int64)
    arrays = [pa.array(ids), pa.array(label)] + numeric + categorical + [pa.array(p_true), _emails(rng, rows)]
    schema = synthetic_schema()
    return pa.Table.from_arrays(arrays, schema=schema.remove(schema.get_field_index("event_date")))


def generate_rows(start: int, stop: int, seed: int = 0, drift: float = 0.0) -> pa.Table:
    """Rows [start, stop) of the dataset drawn with `seed`, without event_date."""
    pieces = []
    for block in range(start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS + 1 if stop > start else 0):
        table = _cached_block(seed, block, float(drift))
        lo = max(start - block * BLOCK_ROWS, 0)
        hi = min(stop - block * BLOCK_ROWS, BLOCK_ROWS)
        pieces.append(table.slice(lo, hi - lo))
    if not pieces:
        return generate_block(seed, 0, drift).slice(0, 0)
    return pa.concat_tables(pieces)


def generate_table(rows: int, seed: int = 0, drift: float = 0.0, start_date: str = "2026-01-01", days: int = 1):
    """A whole dataset in memory: `rows` rows spread evenly over `days` days."""
    table = generate_rows(0, rows, seed, drift)
    return table.add_column(1, synthetic_schema().field("event_date"), day_column(0, rows, rows, days, start_date))


def day_of_rows(start: int, stop: int, total_rows: int, days: int) -> np.ndarray:
    """Day index of each row: rows are spread evenly and in order over the days."""
    return (np.arange(start, stop, dtype=np.int64) * days) // max(total_rows, 1)


def day_column(start: int, stop: int, total_rows: int, days: int, start_date: str) -> pa.Array:
    first = np.datetime64(start_date, "D").astype(np.int64)
    return pa.array((first + day_of_rows(start, stop, total_rows, days)).astype(np.int32), type=pa.date32())
