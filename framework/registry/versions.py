"""Registered model versions: register a bundle, list, resolve a reference, move aliases with history.

Each alias keeps the versions it pointed to, oldest first, in the registered-model tag
`raylane.alias_history.<alias>`, so `rollback` returns it to the one before.

Example:
    >>> version = register_bundle("ctr", run_id)                 # doctest: +SKIP  (alias: candidate)
    >>> path, identity = resolve_model("ctr@candidate")          # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from framework.errors import ArtifactError, ConfigError
from framework.registry.refs import check_name, local_source, parse_reference, resolve_version
from framework.registry.store import mlflow_client

__all__ = [
    "CANDIDATE", "alias_history", "is_reference", "list_models", "register_bundle", "require_version",
    "resolve_model", "set_alias", "version_details",
]

CANDIDATE = "candidate"
BUNDLE_ARTIFACT = "bundle"
_HISTORY_TAG = "raylane.alias_history."


def is_reference(text: str) -> bool:
    """Whether `text` names a registry entry (name@alias, name/N) rather than a bundle directory."""
    path = Path(os.path.expanduser(text))
    if path.exists():
        return False
    return "@" in text or (text.count("/") == 1 and text.rsplit("/", 1)[1].isdigit())


def _ensure_registered(client, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="registered by raylane")


def alias_history(client, name: str, alias: str) -> list[str]:
    tag = client.get_registered_model(name).tags.get(_HISTORY_TAG + alias)
    return json.loads(tag) if tag else []


def set_alias(name: str, alias: str, version: str, client=None) -> None:
    """Point `alias` at `version` and remember where it pointed."""
    client = client or mlflow_client()
    history = alias_history(client, name, alias)
    if not history or history[-1] != str(version):
        history.append(str(version))
    client.set_registered_model_alias(name, alias, str(version))
    client.set_registered_model_tag(name, _HISTORY_TAG + alias, json.dumps(history[-50:]))


def register_bundle(name: str, run_id: str, tags: dict | None = None, alias: str = CANDIDATE) -> str:
    """A new version of `name` from the bundle logged under `run_id`; `alias` points at it. Returns the version."""
    client = mlflow_client()
    check_name(name)
    _ensure_registered(client, name)
    run = client.get_run(run_id)
    source = f"{run.info.artifact_uri}/{BUNDLE_ARTIFACT}"
    version = client.create_model_version(name, source=source, run_id=run_id, tags=tags or {})
    set_alias(name, alias, version.version, client)
    return str(version.version)


def _experiment_root(client, version) -> str:
    run = client.get_run(version.run_id)
    return client.get_experiment(run.info.experiment_id).artifact_location


def resolve_model(text: str):
    """(local bundle directory, ModelIdentity) for `name@alias` / `name/version`.

    Local artifact stores are read in place (inside the store only); remote ones are downloaded once
    into `$RAYLANE_HOME/registry-cache/NAME/VERSION`.
    """
    from framework.models.identity import ModelIdentity, manifest_sha256

    client = mlflow_client()
    reference = parse_reference(text)
    version = resolve_version(client, reference)
    root = _experiment_root(client, version)
    if root.startswith(("file:", "/")):
        path = local_source(version.source, root)
    else:
        path = _download(client, version)
    return path, ModelIdentity(name=reference.name, version=str(version.version), sha256=manifest_sha256(path))


def resolve_bundle_path(model: str | os.PathLike) -> Path:
    """A bundle directory, as given on the command line (`--model DIR`)."""
    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    raise ArtifactError(f"--model {text}: no such directory; expected a model bundle written by `raylane train`, "
                        "or a registry reference name@alias or name/version")


def resolve_bundle(model: str | os.PathLike):
    """(bundle directory, registry identity or None) for a bundle path, `name@alias` or `name/version`."""
    if is_reference(os.fspath(model)):
        return resolve_model(os.fspath(model))
    return resolve_bundle_path(model), None


def _download(client, version) -> Path:
    from framework.config.home import raylane_home

    target = raylane_home() / "registry-cache" / version.name / str(version.version)
    if not (target / BUNDLE_ARTIFACT).is_dir():
        target.mkdir(parents=True, exist_ok=True)
        client.download_artifacts(version.run_id, BUNDLE_ARTIFACT, dst_path=str(target))
    return local_source(str(target / BUNDLE_ARTIFACT), str(target))


def list_models() -> list[dict]:
    """Every registered model with its versions and aliases."""
    client = mlflow_client()
    models = []
    for model in client.search_registered_models(max_results=1000):
        versions = client.search_model_versions(f"name = '{model.name}'")
        aliases = {alias: str(version) for alias, version in (model.aliases or {}).items()}
        models.append({"name": model.name, "versions": sorted(int(v.version) for v in versions), "aliases": aliases})
    return sorted(models, key=lambda m: m["name"])


def version_details(text: str) -> dict:
    """Metrics, lineage tags and aliases of one version (`name/version` or `name@alias`)."""
    client = mlflow_client()
    reference = parse_reference(text)
    version = resolve_version(client, reference)
    run = client.get_run(version.run_id) if version.run_id else None
    aliases = [alias for alias, v in (client.get_registered_model(reference.name).aliases or {}).items() if str(v) == str(version.version)]
    return {
        "name": reference.name,
        "version": str(version.version),
        "aliases": sorted(aliases),
        "source": version.source,
        "run_id": version.run_id,
        "tags": dict(version.tags or {}),
        "metrics": dict(run.data.metrics) if run else {},
        "lineage": {k: v for k, v in (run.data.tags if run else {}).items() if k.startswith("raylane.")},
    }


def require_version(name: str, version: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client().get_model_version(check_name(name), str(version))
    except MlflowException:
        raise ConfigError(f"model {name}/{version}: no such version; `raylane models list` shows the versions") from None

