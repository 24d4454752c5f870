"""Bearer-token auth for the scoring service: where the token comes from, and how a request is checked.

The token is read once, by the process that starts serving, from `--token-file` (mode 0600) or
`$RAYLANE_SERVE_TOKEN`. Replicas receive only its SHA-256, so the secret itself never sits in
Serve's stored deployment arguments; a request passes when the SHA-256 of its bearer token matches,
compared in constant time.

Example:
    >>> digest = token_digest("s3cret")
    >>> BearerCheck(digest).allows("Bearer s3cret"), BearerCheck(digest).allows("Bearer nope")
    (True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from framework.errors import ConfigError

__all__ = ["TOKEN_ENV", "BearerCheck", "resolve_token_digest", "token_digest", "NO_AUTH_WARNING"]

TOKEN_ENV = "RAYLANE_SERVE_TOKEN"
MIN_TOKEN_CHARS = 16
NO_AUTH_WARNING = (
    "warning: serving WITHOUT authentication (--no-auth): anyone who can reach the port can score rows "
    "and read /metrics. Use a token (RAYLANE_SERVE_TOKEN or --token-file) beyond a trusted machine."
)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _read_token_file(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"--token-file {path}: no such file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"--token-file {path}: readable by other users (mode {mode:04o}); run `chmod 600 {path}`"
        )
    return path.read_text(encoding="utf-8").strip()


def _checked(token: str, source: str) -> str:
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{source}: the serving token must have at least {MIN_TOKEN_CHARS} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return token


def resolve_token_digest(token_file: str | None, environ: dict | None = None) -> str:
    """SHA-256 of the serving token: from `token_file` when given, else `$RAYLANE_SERVE_TOKEN`.

    Raises ConfigError (saying how to provide one, or to pass --no-auth) when there is none.
    """
    environ = os.environ if environ is None else environ
    if token_file:
        path = Path(token_file).expanduser()
        return token_digest(_checked(_read_token_file(path), f"--token-file {path}"))
    if environ.get(TOKEN_ENV):
        return token_digest(_checked(environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}"))
    raise ConfigError(
        f"serving needs a token: set ${TOKEN_ENV} or pass --token-file FILE (mode 0600); "
        "to serve without authentication on a trusted machine, pass --no-auth"
    )


class BearerCheck:
    """Checks `Authorization: Bearer <token>` against a SHA-256 digest; `None` lets everything in."""

    def __init__(self, digest: str | None):
        self.digest = digest

    def allows(self, authorization: str | None) -> bool:
        if self.digest is None:
            return True
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return False
        return hmac.compare_digest(token_digest(presented.strip()), self.digest)
