"""Monitoring: each bundle's feature profile, and drift of new data against it (PSI, unseen categories).

Example:
    >>> from framework.monitor import check_drift, write_drift_report
    >>> report = check_drift("runs/ctr/bundle", "data/day=2026-01-09")     # doctest: +SKIP
    >>> [b["feature"] for b in report["breaches"]]                         # doctest: +SKIP
    ['I5', 'prediction']
"""

from framework.monitor.check import CHART_FILE, DRIFT_FILE, PROFILE_FILE, check_drift, drift_for_table, write_drift_report
from framework.monitor.drift import DriftThresholds, drift_report, psi
from framework.monitor.profile import build_profile

__all__ = [
    "CHART_FILE", "DRIFT_FILE", "PROFILE_FILE", "DriftThresholds", "build_profile", "check_drift",
    "drift_for_table", "drift_report", "psi", "write_drift_report",
]
