"""The slice gate of a promotion: on no slice (one value of a `card.slices` column) with at least
`min_slice_rows` holdout rows may the candidate's AUC fall more than `max_slice_drop` below the
current model's.

The overall AUC can rise while one group of traffic gets a much worse model; this gate catches that.
The slice columns are the candidate's `card.slices`, read from the training config its model card
carries: the bundle's own record, so a bundle registered by hand is gated the same way.

Example:
    >>> comparisons = compare_slices(table, "label", ["C1"], candidate_scores, current_scores,
    ...                              max_drop=0.04, min_rows=1000)                       # doctest: +SKIP
    >>> [c.slice for c in comparisons if c.failed]                                       # doctest: +SKIP
    ['C1=4194919238']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from framework.errors import ArtifactError, ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = [
    "DEFAULT_MAX_SLICE_DROP", "DEFAULT_MIN_SLICE_ROWS", "SliceComparison", "check_slice_settings", "compare_slices",
    "slice_columns", "worst_slice",
]

# Measured on the synthetic data (tests/scoring_fakes.py's small DLRM, 60k training rows, 300 steps,
# 6 seeds; a 20k-row holdout). Noise: where one honest model beats another overall (else the overall
# gate refuses it anyway), its worst slice of 1,000+ rows is at most 0.030 AUC lower (0.058 at 500+
# rows, 0.072 at 250+). Regression: a model trained with the labels of one C1 value shuffled loses
# 0.058-0.099 on that slice (3.6k holdout rows), with them flipped 0.26-0.30. 0.04 lies between.
DEFAULT_MAX_SLICE_DROP = 0.04
DEFAULT_MIN_SLICE_ROWS = 1000  # smaller slices swing too much between honest models to be gated

CARD_FILE = "model_card.md"
_CONFIG_BLOCK = re.compile(r"^## Training config\s*\n+```json\n(.*?)\n```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class SliceComparison:
    """Both models' AUC on one slice of the holdout; `drop` is current minus candidate."""

    slice: str  # column=value
    rows: int  # holdout rows of the slice, scored by each model
    clicks: int  # positive labels among them
    candidate_auc: float | None = None  # None: one class is missing, so the slice has no AUC
    current_auc: float | None = None
    drop: float | None = None
    failed: bool = False
    note: str = ""

    def describe(self) -> str:
        if self.drop is None:
            return f"{self.slice}: {self.note}"
        return (f"{self.slice}: candidate AUC {self.candidate_auc:.4f} on {self.rows:,} rows, "
                f"current AUC {self.current_auc:.4f} on {self.rows:,} rows ({self.clicks:,} clicks), drop {self.drop:.4f}")


def check_slice_settings(max_slice_drop: float, min_slice_rows: int) -> None:
    if not 0 <= max_slice_drop <= 1:
        raise ConfigError(f"max_slice_drop: got {max_slice_drop}; expected an AUC difference from 0 to 1")
    if min_slice_rows < 1:
        raise ConfigError(f"min_slice_rows: got {min_slice_rows}; expected at least 1 row")


def slice_columns(bundle) -> list[str]:
    """The `card.slices` of the training config in a loaded bundle's model card; [] when it has none.

    Only a card the bundle's manifest lists (its checksum verified at load) is read."""
    if CARD_FILE not in bundle.checksums:
        return []
    card = bundle.directory / CARD_FILE
    match = _CONFIG_BLOCK.search(card.read_text(encoding="utf-8"))
    if match is None:
        return []
    try:
        config = json.loads(match.group(1))
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{card}: the training config in the model card is not JSON ({error})") from None
    columns = [str(column) for column in (config.get("card") or {}).get("slices") or []]
    _refuse_pii(bundle, columns)
    return columns


def _refuse_pii(bundle, columns: list[str]) -> None:
    """Slice values reach the audit log, which holds no PII; training refuses pii slices, and so does this."""
    from framework.data.contract import load_contract

    if not columns or bundle.contract_path is None:
        return
    pii = sorted(set(columns) & set(load_contract(bundle.contract_path).names("pii")))
    if pii:
        raise ConfigError(f"{bundle.directory}: card.slices {pii} have the role pii in the bundle's contract; "
                          "they cannot be slices")


def compare_slices(table: pa.Table, label: str, columns: list[str], candidate_scores: np.ndarray,
                   current_scores: np.ndarray, *, max_drop: float, min_rows: int) -> tuple[SliceComparison, ...]:
    """Every value of `columns` with at least `min_rows` rows, most rows first; nulls are no slice."""
    import pyarrow.compute as pc

    labels = table[label].to_numpy(zero_copy_only=False).astype(bool)
    comparisons = []
    for column in columns:
        counts = [c for c in pc.value_counts(table[column]).to_pylist() if c["values"] is not None and c["counts"] >= min_rows]
        for entry in sorted(counts, key=lambda c: (-c["counts"], str(c["values"]))):
            mask = pc.fill_null(pc.equal(table[column], entry["values"]), False).to_numpy(zero_copy_only=False)
            comparisons.append(_compare(f"{column}={entry['values']}", labels[mask], candidate_scores[mask],
                                        current_scores[mask], max_drop))
    return tuple(comparisons)


def _compare(name: str, labels: np.ndarray, candidate: np.ndarray, current: np.ndarray, max_drop: float) -> SliceComparison:
    from framework.metrics import roc_auc

    rows, clicks = int(labels.size), int(labels.sum())
    if clicks in (0, rows):
        return SliceComparison(name, rows, clicks, note=f"{rows:,} rows, {clicks:,} clicks: one class is missing, "
                                                        "so there is no AUC; not gated")
    candidate_auc, current_auc = roc_auc(labels, candidate), roc_auc(labels, current)
    drop = current_auc - candidate_auc
    return SliceComparison(name, rows, clicks, candidate_auc, current_auc, drop, failed=drop > max_drop)


def worst_slice(comparisons: tuple[SliceComparison, ...]) -> SliceComparison | None:
    """The slice where the candidate loses most to the current model (None when none has an AUC)."""
    scored = [c for c in comparisons if c.drop is not None]
    return max(scored, key=lambda c: c.drop) if scored else None
