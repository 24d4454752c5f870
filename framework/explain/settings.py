"""How much work an explanation does: rows sampled, shuffles per column, the seed, on or off.

Training reads these from its config's `explain:` section; `raylane explain` from its options. The
same settings on the same data give the same numbers in both places.

Example:
    >>> ExplainSettings(max_rows=20_000, repeats=5)
    ExplainSettings(enabled=True, max_rows=20000, repeats=5, seed=0)
    >>> ExplainSettings(repeats=0)
    Traceback (most recent call last):
    ...
    framework.errors.ConfigError: explain.repeats: got 0; expected at least 1 shuffle per column
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from framework.errors import ConfigError

__all__ = ["ExplainSettings"]


@dataclass(frozen=True)
class ExplainSettings:
    """`max_rows`: the seeded sample of the data that is shuffled and scored; `repeats`: shuffles per
    column (the importance is their mean, with its standard deviation); `seed`: picks the sample and
    the shuffles; `enabled`: whether training explains its model at all."""

    enabled: bool = True
    max_rows: int = 50_000
    repeats: int = 3
    seed: int = 0

    def __post_init__(self):
        if self.max_rows < 2:
            raise ConfigError(f"explain.max_rows: got {self.max_rows}; expected at least 2 rows (50000 is usual)")
        if self.repeats < 1:
            raise ConfigError(f"explain.repeats: got {self.repeats}; expected at least 1 shuffle per column")
        if self.seed < 0:
            raise ConfigError(f"explain.seed: got {self.seed}; expected a non-negative integer")

    @classmethod
    def of(cls, section) -> "ExplainSettings":
        """Settings from a config section with any of these attributes (the others keep their defaults);
        None gives the defaults."""
        if section is None or isinstance(section, cls):
            return section or cls()
        return cls(**{f.name: getattr(section, f.name) for f in fields(cls) if getattr(section, f.name, None) is not None})
