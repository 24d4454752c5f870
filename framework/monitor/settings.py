"""The drift settings shared by scoring runs, `raylane nightly` and `raylane drift`."""

from __future__ import annotations

from pydantic import Field

from framework.config import StrictModel
from framework.monitor.drift import DriftThresholds

__all__ = ["DriftSection"]


class DriftSection(StrictModel):
    """PSI thresholds (0.2 is the usual "significant shift"), the unseen-category growth allowed, and
    the size of the seeded sample compared."""

    enabled: bool = Field(True, description="compare each scoring run with the model's training profile")
    psi: float = Field(0.2, gt=0)
    prediction_psi: float = Field(0.2, gt=0)
    oov_share_increase: float = Field(0.05, gt=0)
    sample_rows: int = Field(200_000, gt=0)

    def thresholds(self) -> DriftThresholds:
        return DriftThresholds(psi=self.psi, prediction_psi=self.prediction_psi, oov_share_increase=self.oov_share_increase)
