"""Where the registry lives: MLflow tracking and registry in SQLite under `$RAYLANE_HOME` by default,
any MLflow server through `MLFLOW_TRACKING_URI`.

Example:
    >>> tracking_uri()                                  # doctest: +SKIP
    'sqlite:////home/me/.raylane/mlflow/mlflow.db'
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from framework.errors import ConfigError

__all__ = ["tracking_uri", "artifact_root", "mlflow_client", "experiment_id", "EXPERIMENT"]

EXPERIMENT = "raylane"


def _local_store() -> Path:
    from framework.config.home import raylane_home

    directory = raylane_home() / "mlflow"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def tracking_uri() -> str:
    """`$MLFLOW_TRACKING_URI`, else a SQLite file under `$RAYLANE_HOME/mlflow`."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{_local_store() / 'mlflow.db'}"


def artifact_root() -> str | None:
    """Where a new experiment keeps artifacts: beside the SQLite file for the embedded default;
    the server decides (None) when `MLFLOW_TRACKING_URI` names one."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ.get("RAYLANE_ARTIFACT_ROOT")
    return str(_local_store() / "artifacts")


@functools.lru_cache(maxsize=4)
def _client(uri: str):
    import logging

    from mlflow import MlflowClient

    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema migration chatter on first use
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)  # opens the store: a schema from another release fails here
    except Exception as error:  # noqa: BLE001 - MLflow's own exception types vary with the store
        from mlflow.version import VERSION

        from framework.registry.schema import schema_advice

        advice = schema_advice(uri, str(error), VERSION)
        if advice is None:
            raise
        raise ConfigError(advice) from None
    return client


def mlflow_client():
    """One MlflowClient per store URI and process (tracking and registry share the store)."""
    return _client(tracking_uri())


def experiment_id(client=None) -> str:
    """The `raylane` experiment, created on first use."""
    client = client or mlflow_client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(EXPERIMENT, artifact_location=artifact_root())
