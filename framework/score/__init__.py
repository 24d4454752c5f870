"""Scoring with a model bundle: the shared row scorer, nightly batch scoring on Ray Data.

Example:
    >>> from framework.score import BundleScorer
    >>> scores = BundleScorer("runs/ctr-small/bundle").score(raw_table)    # doctest: +SKIP
"""

from framework.score.scorer import BundleScorer, ModelIdentity, resolve_bundle_path

__all__ = ["BundleScorer", "ModelIdentity", "resolve_bundle_path"]
