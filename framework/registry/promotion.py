"""Gated promotion and rollback of aliases (`prod`, say), each decision written to the audit log.

A candidate is promoted only if it beats the version the alias points to now, on a named holdout
dataset, by more than the margin: both are scored on the same rows and their AUCs compared. The
first promotion of an alias has nothing to beat. `force=True` overrides a refusal; the override is
recorded in the audit log and as a tag on the version.

Example:
    >>> decision = promote("ctr", "4", "prod", holdout="data/holdout", margin=0.002)   # doctest: +SKIP
    >>> decision.promoted, decision.candidate_auc, decision.current_auc                # doctest: +SKIP
    (True, 0.7412, 0.7371)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from framework.errors import ConfigError, RaylaneError
from framework.registry.refs import check_name
from framework.registry.store import mlflow_client
from framework.registry.versions import alias_history, require_version, set_alias

__all__ = ["PromotionDecision", "PromotionRefused", "holdout_auc", "promote", "rollback"]


class PromotionRefused(RaylaneError):
    """The candidate did not beat the current version on the holdout data."""

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

    def summary(self) -> str:
        if self.candidate_auc is None:
            return f"{self.name}@{self.alias} -> version {self.version} (nothing to compare with)"
        return (f"holdout AUC: candidate {self.name}/{self.version} {self.candidate_auc:.4f}, "
                f"current {self.name}/{self.previous} {self.current_auc:.4f} (margin {self.margin})")


def holdout_auc(reference: str, holdout, label: str = "label") -> float:
    """AUC of a registry version on the holdout data (independent of anything logged at training)."""
    from framework.data import read_table
    from framework.metrics import roc_auc
    from framework.registry.versions import resolve_model
    from framework.score import BundleScorer

    path, identity = resolve_model(reference)
    scorer = BundleScorer(path, identity=identity)
    table = read_table(holdout, columns=[*scorer.input_columns, label])
    return roc_auc(table[label].to_numpy(), scorer.score(table))


def _audit(decision: PromotionDecision, action: str, outcome: str) -> None:
    from framework.governance import AuditLog

    AuditLog.default().append(action, outcome, model={"name": decision.name, "version": decision.version},
                              details={k: v for k, v in asdict(decision).items() if k not in ("name", "version")})


def _current(client, name: str, alias: str) -> str | None:
    aliases = client.get_registered_model(name).aliases or {}
    return str(aliases[alias]) if alias in aliases else None


def promote(name: str, version: str, alias: str = "prod", holdout=None, margin: float = 0.0, force: bool = False,
            label: str = "label") -> PromotionDecision:
    """Move `alias` to `version` if it beats the current one on `holdout`; PromotionRefused otherwise."""
    client = mlflow_client()
    check_name(name)
    require_version(name, version)
    previous = _current(client, name, alias)
    decision = PromotionDecision(name, str(version), alias, previous, promoted=True, forced=force, margin=margin,
                                 holdout=str(holdout) if holdout else None)
    if previous is not None and previous != str(version):
        if holdout is None and not force:
            raise ConfigError(f"promoting {name}/{version} to @{alias} is gated: give --holdout DATA to compare it with "
                              f"{name}/{previous}, or --force to override (recorded)")
        if holdout is not None:
            candidate, current = holdout_auc(f"{name}/{version}", holdout, label), holdout_auc(f"{name}/{previous}", holdout, label)
            beats = candidate - current > margin
            decision = PromotionDecision(**{**asdict(decision), "candidate_auc": candidate, "current_auc": current,
                                            "promoted": beats or force})
            if not beats and not force:
                _audit(decision, "promote", "refused")
                raise PromotionRefused(f"refused: {decision.summary()}; the candidate must beat it by more than the margin "
                                       f"(--force overrides, and is recorded)")
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
