"""Over-limit bodies on a real socket (`local_app` under uvicorn, with each of its HTTP parsers): a client
that reads the answer only after sending the whole body (`urllib`) gets the 413, not a connection reset;
past the drain bounds the server stops reading and closes, without hanging."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from framework.serve import ServiceSettings, local_app, token_digest
from framework.serve import _app
from tests.serve.conftest import AUTH, TOKEN

LIMIT = 64_000
BIG = 15 * 1024 * 1024
DETAIL = {"detail": f"request body over the limit of {LIMIT} bytes"}


@pytest.fixture(scope="module", params=["httptools", "h11"])
def served_url(request, serve_bundle):
    import uvicorn

    settings = ServiceSettings(model_place=str(serve_bundle), reload_check_s=0, max_body_bytes=LIMIT, token_digest=token_digest(TOKEN))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(local_app(settings), http=request.param, lifespan="off", log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        server.should_exit = True
        thread.join(timeout=30)


def _chunks(size: int, step: int = 256 * 1024):
    for start in range(0, size, step):
        yield b"x" * min(step, size - start)


def _urllib_post(url: str, data):
    request = urllib.request.Request(f"{url}/v1/predict", data=data, headers={"Content-Type": "application/json", **AUTH})
    return urllib.request.urlopen(request, timeout=60)


def _raw_post(url: str, headers: dict, body: bytes = b"") -> tuple[bytes, float]:
    """Sends the request head and `body` and stops sending; returns what the server answered before it
    closed, and how long that took."""
    started, address = time.monotonic(), urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        head = "".join(f"{name}: {value}\r\n" for name, value in {**AUTH, **headers}.items())
        sock.sendall(f"POST /v1/predict HTTP/1.1\r\nHost: test\r\n{head}\r\n".encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer, time.monotonic() - started


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/healthz", timeout=30) as reply:
        return reply.status == 200


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_urllib_gets_the_413_for_a_15_mb_body(served_url, framing):
    data = b"x" * BIG if framing == "content-length" else _chunks(BIG)  # urllib sends an iterable chunked
    with pytest.raises(urllib.error.HTTPError) as raised:
        _urllib_post(served_url, data)
    assert raised.value.code == 413
    assert json.loads(raised.value.read()) == DETAIL


def test_a_body_past_the_drain_bound_is_cut_off(served_url, monkeypatch):
    monkeypatch.setattr(_app, "DRAIN_MAX_BYTES", 256 * 1024)
    started = time.monotonic()
    with pytest.raises(urllib.error.URLError) as raised:  # the server stopped reading: a reset, as before
        _urllib_post(served_url, _chunks(BIG))
    assert not isinstance(raised.value, urllib.error.HTTPError)
    assert time.monotonic() - started < 20
    answer, _ = _raw_post(served_url, {"Content-Length": str(BIG)})  # declared past the bound: answered at once
    assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()
    assert _healthy(served_url)


def test_a_client_that_stalls_mid_body_gets_the_413_after_the_time_bound(served_url, monkeypatch):
    monkeypatch.setattr(_app, "DRAIN_MAX_SECONDS", 0.5)
    answer, took = _raw_post(served_url, {"Content-Length": str(1_000_000)}, b"x" * 100_000)
    assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == DETAIL
    assert 0.5 <= took < 10


def test_a_client_waiting_for_100_continue_gets_the_413_without_sending_the_body(served_url):
    answer, took = _raw_post(served_url, {"Content-Length": str(BIG), "Expect": "100-continue"})
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer
    assert took < 5
