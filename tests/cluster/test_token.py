"""The auth token file: generated once, 0600, refused when others can read it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from framework.cluster import ClusterError, auth_env, auth_headers, auth_token_path, ensure_auth_token, read_auth_token


def test_token_is_generated_once_with_mode_0600(tmp_path):
    path = ensure_auth_token(tmp_path)
    assert path == auth_token_path(tmp_path) == tmp_path / "ray" / "auth_token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = read_auth_token(path)
    assert len(token) == 64 and int(token, 16) >= 0  # 256 bits, hex, like `ray get-auth-token --generate`
    assert ensure_auth_token(tmp_path) == path
    assert read_auth_token(path) == token, "a second call must reuse the token, not rotate it"


def test_token_readable_by_others_is_refused(tmp_path):
    path = ensure_auth_token(tmp_path)
    path.chmod(0o644)
    with pytest.raises(ClusterError, match="chmod 600"):
        ensure_auth_token(tmp_path)


def test_missing_or_empty_token_says_what_to_do(tmp_path):
    with pytest.raises(ClusterError, match="raylane cluster up"):
        read_auth_token(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.touch(mode=0o600)
    with pytest.raises(ClusterError, match="empty"):
        read_auth_token(empty)


def test_env_and_headers():
    assert auth_env(Path("/x/t")) == {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": "/x/t"}
    assert auth_headers("abc") == {"Authorization": "Bearer abc"}
    assert auth_headers(None) == {}
