"""A short, real round trip for `raylane demo`: serve a bundle, send a few HTTP requests, stop.

Example:
    >>> replies = demo_requests("runs/demo/bundle", held_out_table)          # doctest: +SKIP
    [serve-demo] POST /v1/predict (1 row) -> 200 {"scores": [0.031...], "model": {...}}
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

import pyarrow as pa

from framework.serve._auth import token_digest

__all__ = ["demo_requests"]


def _post(url: str, body: bytes, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _rows(table: pa.Table, columns: list[str], count: int) -> list[dict]:
    return table.select(columns).slice(0, count).to_pylist()


def _requests(rows: list[dict], first_column: str) -> list[tuple[str, bytes, bool]]:
    bad = dict(rows[0], **{first_column: "not a number"})
    return [
        ("1 row", json.dumps({"rows": rows[:1]}).encode(), True),
        (f"{len(rows)} rows", json.dumps({"rows": rows}).encode(), True),
        ("a wrong type (expect 422)", json.dumps({"rows": [bad]}).encode(), True),
        ("no token (expect 401)", json.dumps({"rows": rows[:1]}).encode(), False),
    ]


def demo_requests(model: str, table: pa.Table, *, rows: int = 3, port: int = 8000, host: str = "127.0.0.1", log=print) -> list[tuple[int, dict]]:
    """Serve `model` on host:port (token auth, a fresh random token), POST a few requests built from
    the first `rows` rows of `table` (raw columns, e.g. the held-out day), log each reply, stop
    serving, and return [(status, json), ...]."""
    from framework.config import validate_mapping
    from framework.serve._model_source import load_model
    from framework.serve._runner import start_serving, stop_serving

    _, cfg = validate_mapping({"model": {"path": str(model), "reload_check_s": 0}, "server": {"host": host, "port": port}}, kind="serve")
    token = secrets.token_hex(32)
    columns = load_model(str(model)).scorer.input_columns
    endpoint = start_serving(cfg, token_digest(token))
    replies = []
    try:
        for label, body, with_token in _requests(_rows(table, columns, rows), columns[0]):
            status, answer = _post(f"{endpoint.url}/v1/predict", body, token if with_token else None)
            log(f"[serve-demo] POST /v1/predict ({label}) -> {status} {json.dumps(answer)[:300]}")
            replies.append((status, answer))
    finally:
        stop_serving(endpoint)
    return replies
