"""Gated promotion and rollback of aliases (`prod`, say), each decision written to the audit log.

A candidate is promoted only if it beats the version the alias points to now, on a named holdout
dataset, by more than the margin: both are scored on the same rows and their AUCs compared. It must
also hold up on every slice (a value of a `card.slices` column, see `slice_gate`): on no slice with
`min_slice_rows` rows may its AUC fall more than `max_slice_drop` below the current one's. The
first promotion of an alias has nothing to beat. `force=True` overrides a refusal; the override is
recorded in the audit log (with the slices that failed) and as a tag on the version.

Example:
    >>> decision = promote("ctr", "4", "prod", holdout="data/holdout", margin=0.002)   # doctest: +SKIP
    >>> decision.promoted, decision.candidate_auc, decision.current_auc                # doctest: +SKIP
    (True, 0.7412, 0.7371)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from framework.errors import ConfigError, RaylaneError
from framework.registry.refs import check_name
from framework.registry.slice_gate import (
    DEFAULT_MAX_SLICE_DROP, DEFAULT_MIN_SLICE_ROWS, SliceComparison, check_slice_settings, compare_slices, slice_columns,
    worst_slice,
)
from framework.registry.store import mlflow_client
from framework.registry.versions import alias_history, require_version, set_alias

__all__ = ["PromotionDecision", "PromotionRefused", "holdout_auc", "promote", "rollback"]


class PromotionRefused(RaylaneError):
    """The candidate did not beat the current version on the holdout data, or lost too much on a slice."""

    exit_code = 1


@dataclass(frozen=True)
class PromotionDecision:
    name: str
    version: str
    alias: str
    previous: str | None
    promoted: bool
    forced: bool
    candidate_auc: float | None = None
    current_auc: float | None = None
    margin: float = 0.0
    holdout: str | None = None
    max_slice_drop: float = DEFAULT_MAX_SLICE_DROP
    min_slice_rows: int = DEFAULT_MIN_SLICE_ROWS
    slice_columns: tuple[str, ...] = ()  # the candidate's card.slices
    slices: tuple[SliceComparison, ...] = ()  # every slice with min_slice_rows rows, most rows first

    def summary(self) -> str:
        if self.candidate_auc is None:
            return f"{self.name}@{self.alias} -> version {self.version} (nothing to compare with)"
        return (f"holdout AUC: candidate {self.name}/{self.version} {self.candidate_auc:.4f}, "
                f"current {self.name}/{self.previous} {self.current_auc:.4f} (margin {self.margin}); "
                f"{self._slice_summary()}")

    def _slice_summary(self) -> str:
        if not self.slice_columns:
            return "no slices: the candidate's training config has no card.slices"
        worst = worst_slice(self.slices)
        if worst is None:
            return (f"no slice of {', '.join(self.slice_columns)} with {self.min_slice_rows:,} rows "
                    "or more and both classes")
        return f"worst slice {worst.describe()} (max_slice_drop {self.max_slice_drop})"

    def refusals(self) -> list[str]:
        """Why the gate refuses the candidate ([] when it passes)."""
        reasons = [f"slice {c.describe()} > max_slice_drop {self.max_slice_drop}" for c in self.slices if c.failed]
        if self.candidate_auc is not None and not self.candidate_auc - self.current_auc > self.margin:
            reasons.insert(0, "the candidate must beat the current version by more than the margin")
        return reasons


def _scorer(reference: str):
    from framework.registry.versions import resolve_model
    from framework.score import BundleScorer

    path, identity = resolve_model(reference)
    return BundleScorer(path, identity=identity)


def holdout_auc(reference: str, holdout, label: str = "label") -> float:
    """AUC of a registry version on the holdout data (independent of anything logged at training)."""
    from framework.data import read_table
    from framework.metrics import roc_auc

    scorer = _scorer(reference)
    table = read_table(holdout, columns=[*scorer.input_columns, label])
    return roc_auc(table[label].to_numpy(), scorer.score(table))


def _compare_on_holdout(decision: PromotionDecision, holdout, label: str) -> PromotionDecision:
    """Both models scored on the same holdout rows: overall AUCs and the per-slice comparison."""
    from framework.data import read_table
    from framework.metrics import roc_auc

    candidate = _scorer(f"{decision.name}/{decision.version}")
    current = _scorer(f"{decision.name}/{decision.previous}")
    slices = slice_columns(candidate.bundle)  # the candidate's, even where the current model's differ
    columns = dict.fromkeys([*candidate.input_columns, *current.input_columns, label, *slices])
    table = read_table(holdout, columns=list(columns))
    labels = table[label].to_numpy()
    candidate_scores, current_scores = candidate.score(table), current.score(table)
    comparisons = compare_slices(table, label, slices, candidate_scores, current_scores,
                                 max_drop=decision.max_slice_drop, min_rows=decision.min_slice_rows)
    return replace(decision, candidate_auc=roc_auc(labels, candidate_scores), current_auc=roc_auc(labels, current_scores),
                   slice_columns=tuple(slices), slices=comparisons)


def _audit(decision: PromotionDecision, action: str, outcome: str) -> None:
    from framework.governance import AuditLog

    details = {k: v for k, v in asdict(decision).items() if k not in ("name", "version")}
    details["slice_failures"] = [c.describe() for c in decision.slices if c.failed]
    AuditLog.default().append(action, outcome, model={"name": decision.name, "version": decision.version}, details=details)


def _current(client, name: str, alias: str) -> str | None:
    aliases = client.get_registered_model(name).aliases or {}
    return str(aliases[alias]) if alias in aliases else None


def promote(name: str, version: str, alias: str = "prod", holdout=None, margin: float = 0.0, force: bool = False,
            label: str = "label", max_slice_drop: float = DEFAULT_MAX_SLICE_DROP,
            min_slice_rows: int = DEFAULT_MIN_SLICE_ROWS) -> PromotionDecision:
    """Move `alias` to `version` if it beats the current one on `holdout` and loses no slice by more
    than `max_slice_drop`; PromotionRefused otherwise."""
    client = mlflow_client()
    check_name(name)
    require_version(name, version)
    check_slice_settings(max_slice_drop, min_slice_rows)
    previous = _current(client, name, alias)
    decision = PromotionDecision(name, str(version), alias, previous, promoted=True, forced=force, margin=margin,
                                 holdout=str(holdout) if holdout else None, max_slice_drop=max_slice_drop,
                                 min_slice_rows=min_slice_rows)
    if previous is not None and previous != str(version):
        if holdout is None and not force:
            raise ConfigError(f"promoting {name}/{version} to @{alias} is gated: give --holdout DATA to compare it with "
                              f"{name}/{previous}, or --force to override (recorded)")
        if holdout is not None:
            decision = _compare_on_holdout(decision, holdout, label)
            refusals = decision.refusals()
            decision = replace(decision, promoted=force or not refusals)
            if refusals and not force:
                _audit(decision, "promote", "refused")
                raise PromotionRefused(f"refused: {decision.summary()}; " + "; ".join(refusals)
                                       + " (--force overrides, and is recorded)")
    set_alias(name, alias, str(version), client)
    if force:
        client.set_model_version_tag(name, str(version), "raylane.forced_promotion", alias)
    _audit(decision, "promote", "forced" if force else "ok")
    return decision


def rollback(name: str, alias: str = "prod") -> PromotionDecision:
    """Return `alias` to the version it pointed to before the current one."""
    client = mlflow_client()
    check_name(name)
    history = alias_history(client, name, alias)
    current = _current(client, name, alias)
    if current is None or len(history) < 2:
        raise ConfigError(f"{name}@{alias}: no earlier version to roll back to (history: {history or 'empty'})")
    history.pop()
    target = history[-1]
    client.set_registered_model_alias(name, alias, target)
    client.set_registered_model_tag(name, f"raylane.alias_history.{alias}", json.dumps(history))
    decision = PromotionDecision(name, target, alias, current, promoted=True, forced=False)
    _audit(decision, "rollback", "ok")
    return decision
