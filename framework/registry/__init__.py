"""The model registry on MLflow: versions with lineage, aliases (`candidate`, `prod`), gated promotion.

The embedded default is SQLite under `$RAYLANE_HOME/mlflow`; set `MLFLOW_TRACKING_URI` for a server.
Bundles are registered as plain artifacts (safetensors + JSON) and loaded back without unpickling,
from inside the artifact store only.

Example:
    >>> from framework.registry import register_trained_bundle, promote, resolve_model
    >>> registered = register_trained_bundle("ctr", "runs/ctr-small/bundle")     # doctest: +SKIP
    >>> promote("ctr", registered.version, "prod", holdout="data/holdout")        # doctest: +SKIP
    >>> path, identity = resolve_model("ctr@prod")                                # doctest: +SKIP
"""

from framework.registry.bundles import RegisteredBundle, register_trained_bundle
from framework.registry.promotion import PromotionDecision, PromotionRefused, holdout_auc, promote, rollback
from framework.registry.refs import ModelReference, parse_reference
from framework.registry.store import tracking_uri
from framework.registry.versions import is_reference, list_models, resolve_model, set_alias, version_details

__all__ = [
    "ModelReference", "PromotionDecision", "PromotionRefused", "RegisteredBundle", "holdout_auc", "is_reference",
    "list_models", "parse_reference", "promote", "register_trained_bundle", "resolve_model", "rollback", "set_alias",
    "tracking_uri", "version_details",
]
