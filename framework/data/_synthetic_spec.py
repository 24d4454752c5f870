"""The fixed shape of the synthetic Criteo-like data, and its hidden label model.

Everything here is a constant or derived from a fixed seed, so the planted ground truth is
the same in every process. `--drift` moves it in one fixed direction, by an amount from 0 to 1, so
every dataset generated at the same drift shares the same drifted model whatever its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

BLOCK_ROWS = 1 << 15  # rows are generated in fixed blocks, so file splits never change them
MODEL_SEED = 20260101  # the hidden model is the same for every data seed
DRIFT_RANK_SHIFT = 0.3  # at drift 1, shifted columns move their popular values this far down the ranks


@dataclass(frozen=True)
class NumericSpec:
    name: str
    scale: float  # Lomax scale: typical size of the counts
    alpha: float  # Lomax tail index: smaller is heavier
    null_rate: float
    negative_rate: float  # share of small negative values (-1, -2, -3), as Criteo's I2 has
    weight: float  # weight of the standardised log1p(count) in the hidden logit
    missing_effect: float  # logit effect when the value is missing


@dataclass(frozen=True)
class CategoricalSpec:
    name: str
    is_string: bool  # hex strings (as in Criteo) or int64 ids
    cardinality: int  # distinct values at scale
    zipf_exponent: float
    null_rate: float
    effect_scale: float  # std of the per-value logit effects; 0 for no effect
    drift_shifts: bool  # whether --drift moves this column's popular values


NUMERIC = tuple(
    NumericSpec(f"I{i + 1}", scale, alpha, null_rate, negative, weight, missing)
    for i, (scale, alpha, null_rate, negative, weight, missing) in enumerate(
        [
            (3.0, 1.6, 0.12, 0.0, 0.35, -0.2),
            (20.0, 1.2, 0.05, 0.04, -0.25, 0.0),
            (8.0, 1.4, 0.18, 0.0, 0.15, 0.1),
            (5.0, 2.0, 0.15, 0.0, 0.30, 0.0),
            (900.0, 1.1, 0.06, 0.0, -0.20, 0.15),
            (60.0, 1.3, 0.20, 0.0, 0.10, 0.0),
            (12.0, 1.5, 0.07, 0.0, 0.25, -0.1),
            (10.0, 2.5, 0.05, 0.01, 0.05, 0.0),
            (70.0, 1.4, 0.08, 0.0, 0.20, 0.0),
            (0.8, 2.0, 0.17, 0.0, 0.40, -0.3),
            (2.5, 1.7, 0.09, 0.0, 0.15, 0.0),
            (1.5, 1.3, 0.19, 0.0, -0.10, 0.05),
            (6.0, 1.5, 0.10, 0.0, 0.20, 0.0),
        ]
    )
)

CATEGORICAL = tuple(
    CategoricalSpec(f"C{i + 1}", is_string, cardinality, exponent, null_rate, effect, shifts)
    for i, (is_string, cardinality, exponent, null_rate, effect, shifts) in enumerate(
        [
            (False, 10, 1.10, 0.00, 0.50, False),
            (True, 500, 1.20, 0.02, 0.40, True),
            (False, 1_000_000, 1.05, 0.03, 0.00, True),
            (True, 30, 1.10, 0.00, 0.30, False),
            (True, 3_000, 1.15, 0.10, 0.35, True),
            (False, 100_000, 1.10, 0.05, 0.25, False),
            (True, 20, 1.30, 0.30, 0.20, False),
            (False, 10_000, 1.10, 0.00, 0.30, True),
            (True, 200_000, 1.08, 0.04, 0.00, False),
            (False, 50, 1.20, 0.01, 0.25, False),
            (True, 1_000, 1.10, 0.06, 0.30, False),
            (True, 700_000, 1.05, 0.25, 0.00, True),
            (False, 12, 1.30, 0.00, 0.00, False),
            (True, 400, 1.20, 0.08, 0.00, False),
            (False, 50_000, 1.10, 0.02, 0.00, True),
            (True, 80, 1.20, 0.15, 0.00, False),
            (False, 20_000, 1.10, 0.00, 0.00, False),
            (True, 1_000_000, 1.04, 0.10, 0.00, False),
            (False, 15, 1.25, 0.20, 0.00, False),
            (True, 300_000, 1.06, 0.05, 0.00, True),
            (False, 600, 1.15, 0.00, 0.00, False),
            (True, 40, 1.20, 0.03, 0.00, False),
            (False, 8_000, 1.10, 0.12, 0.00, False),
            (True, 150, 1.20, 0.00, 0.00, False),
            (False, 100_000, 1.08, 0.07, 0.00, False),
            (True, 25, 1.25, 0.30, 0.00, False),
        ]
    )
)

EFFECT_DECAY_RANK = 300.0  # per-value effects shrink for values ranked beyond this
INTERACTION = ("C1", "C4")  # the planted pairwise interaction
INTERACTION_SCALE = 0.6
BIAS = -1.45  # sets the click rate near Criteo's (about a quarter)
USER_COUNT = 1_000_000
INT_VALUE_MULTIPLIER = np.uint64(2654435761)  # odd, so rank → value is a bijection mod 2**32


@dataclass(frozen=True)
class HiddenModel:
    """The planted model after drift: numeric weights, effect tables, interaction table."""

    numeric_weights: np.ndarray
    numeric_missing: np.ndarray
    numeric_scales: np.ndarray
    null_rates: np.ndarray  # numeric then categorical
    rank_shifts: np.ndarray  # per categorical column
    effects: dict  # name → float64 table indexed by (shifted) rank, plus one slot for missing
    interaction: np.ndarray


def _numeric_center(spec: NumericSpec) -> float:
    return float(np.log1p(spec.scale))


NUMERIC_CENTERS = np.array([_numeric_center(s) for s in NUMERIC], dtype=np.float32)


def _table_size(spec: CategoricalSpec) -> int:
    return int(spec.cardinality * (1 + DRIFT_RANK_SHIFT)) + 2


@lru_cache(maxsize=8)
def hidden_model(seed: int, drift: float) -> HiddenModel:
    """The hidden model for data drawn with `seed` at `drift` (0 = the training distribution)."""
    base = np.random.default_rng(MODEL_SEED)
    # The drift direction belongs to the world, not to the sample: datasets drawn with different seeds
    # at the same drift (a recent window, the scored day, a holdout) share one drifted hidden model.
    direction = np.random.default_rng([MODEL_SEED, 1])
    numeric_weights = np.array([s.weight for s in NUMERIC]) + drift * direction.normal(0, 0.25, len(NUMERIC))
    numeric_missing = np.array([s.missing_effect for s in NUMERIC])
    numeric_scales = np.array([s.scale for s in NUMERIC]) * np.exp(drift * direction.normal(0, 0.7, len(NUMERIC)))
    base_nulls = np.array([s.null_rate for s in NUMERIC] + [s.null_rate for s in CATEGORICAL])
    null_rates = np.clip(base_nulls + drift * np.abs(direction.normal(0, 0.08, base_nulls.size)), 0, 0.6)
    rank_shifts = np.array(
        [int(drift * DRIFT_RANK_SHIFT * s.cardinality) if s.drift_shifts else 0 for s in CATEGORICAL]
    )
    effects = {}
    for spec in CATEGORICAL:
        if not spec.effect_scale:
            continue
        # rare values carry small effects, so the planted model is learnable from a sample
        decay = 1.0 / np.sqrt(1.0 + np.arange(_table_size(spec)) / EFFECT_DECAY_RANK)
        table = base.normal(0.0, 1.0, decay.size) * spec.effect_scale * decay
        if drift:
            table = table + drift * direction.normal(0.0, spec.effect_scale * 0.8, table.size)
        effects[spec.name] = table
    interaction = base.normal(0.0, INTERACTION_SCALE, (64, 64))
    return HiddenModel(numeric_weights, numeric_missing, numeric_scales, null_rates, rank_shifts, effects, interaction)
