"""The application builder for Serve config files: `import_path: framework.serve.app:app`.

For `serve run` and KubeRay's RayService, whose `args:` are a serve config mapping (see
jobs/configs/serve.yaml; the `server:` section is ignored there: Serve's own `http_options` rule).
The token comes from $RAYLANE_SERVE_TOKEN (a Kubernetes Secret) or `server.auth.token_file`.

Example (a RayService serveConfigV2):
    applications:
      - name: score
        import_path: framework.serve.app:app
        args: {model: {path: /mnt/raylane/runs/ctr/bundle}, batching: {max_batch_size: 128}}
"""

from __future__ import annotations

from framework.config import validate_mapping
from framework.serve._session import resolve_auth

__all__ = ["app"]


def app(args: dict):
    """A Serve Application from the `args` mapping of a Serve config file."""
    from framework.serve._deployment import build_application

    _, cfg = validate_mapping(dict(args), kind="serve", source="Serve application args")
    return build_application(cfg, resolve_auth(cfg))
