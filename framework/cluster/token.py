"""The cluster's auth token: generated once into `RAYLANE_HOME/ray/auth_token`, mode 0600.

Ray (2.52+) checks this token on every HTTP and gRPC entry point when `RAY_AUTH_MODE=token`. Ray looks
for it in `RAY_AUTH_TOKEN`, then the file named by `RAY_AUTH_TOKEN_PATH`, then `~/.ray/auth_token`;
raylane points `RAY_AUTH_TOKEN_PATH` at its own file so the cluster's secret lives with the rest of
raylane's state and nothing else on the machine overwrites it.

Example:
    >>> path = ensure_auth_token()          # creates it on first use, reuses it afterwards
    >>> env = auth_env(path)                # {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": ...}
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from framework.cluster._errors import ClusterError
from framework.config.home import raylane_home

__all__ = ["auth_token_path", "ensure_auth_token", "read_auth_token", "auth_env", "auth_headers"]


def auth_token_path(home: Path | None = None) -> Path:
    """Where raylane keeps the token: `RAYLANE_HOME/ray/auth_token`."""
    return (home or raylane_home()) / "ray" / "auth_token"


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ClusterError(
            f"{path} is readable by other users (mode {mode:04o}); anyone who reads it can run code on the "
            f"cluster. Run `chmod 600 {path}` (or delete it to generate a new token)"
        )


def ensure_auth_token(home: Path | None = None) -> Path:
    """Return the token file, generating 256 random bits into a new 0600 file if there is none.

    Same format as `ray get-auth-token --generate`: 64 hex characters, no newline.
    """
    path = auth_token_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two racing `cluster up` calls cannot both write; the mode is set at creation, never widened.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        read_auth_token(path)  # validates mode and content
        return path
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path


def read_auth_token(path: Path, require_private: bool = True) -> str:
    """The token in `path`, after checking the file is not empty and (by default) private to its owner."""
    if not path.is_file():
        raise ClusterError(f"no auth token at {path}; start a head with `raylane cluster up` to create one")
    if require_private:
        _check_private(path)
    token = path.read_text().strip()
    if not token:
        raise ClusterError(f"{path} is empty; delete it and run `raylane cluster up` to generate a new token")
    return token


def auth_env(path: Path) -> dict[str, str]:
    """Environment that turns token auth on for `ray start`, `ray job submit` and drivers."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(path)}


def auth_headers(token: str | None) -> dict[str, str]:
    """HTTP headers for the dashboard and Jobs API (`Authorization: Bearer <token>`)."""
    return {"Authorization": f"Bearer {token}"} if token else {}
