"""Scoring with a model bundle: the shared row scorer, and exactly-once nightly batch scoring on Ray Data.

Example:
    >>> from framework.score import BundleScorer, ScoreConfig, run_scoring, verify_run
    >>> scores = BundleScorer("runs/ctr-small/bundle").score(raw_table)                  # doctest: +SKIP
    >>> result = run_scoring(ScoreConfig(model="runs/ctr-small/bundle", input="data/day",
    ...                                  output="scores", run_date="2026-01-04"))         # doctest: +SKIP
    >>> verify_run(result.run_dir).ok                                                    # doctest: +SKIP
    True
"""

from framework.score.config import ScoreConfig
from framework.score.demo import score_held_out_day
from framework.score.run import RejectLimitError, ScoreResult, run_scoring
from framework.score.scorer import BundleScorer, ModelIdentity, resolve_bundle_path
from framework.score.verify import VerifyReport, read_committed, verify_run

__all__ = [
    "BundleScorer",
    "ModelIdentity",
    "RejectLimitError",
    "ScoreConfig",
    "ScoreResult",
    "VerifyReport",
    "read_committed",
    "resolve_bundle_path",
    "run_scoring",
    "score_held_out_day",
    "verify_run",
]
