"""A steady HTTP load in a background thread (httpx), recording every status code and model version."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import httpx


class SteadyLoad:
    """`concurrency` clients POST `bodies` in turn until `stop()`; `statuses` counts the outcomes."""

    def __init__(self, url: str, bodies: list[bytes], headers: dict, concurrency: int = 4):
        self.url, self.bodies, self.headers, self.concurrency = url, bodies, headers, concurrency
        self.statuses: Counter = Counter()
        self.versions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> "SteadyLoad":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def wait_for(self, requests: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.total < requests and time.monotonic() < deadline:
            time.sleep(0.05)

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=60, headers=self.headers) as client:
            await asyncio.gather(*(self._client(client, i) for i in range(self.concurrency)))

    async def _client(self, client, index: int) -> None:
        turn = index
        while not self._stop.is_set():
            body = self.bodies[turn % len(self.bodies)]
            turn += self.concurrency
            try:
                reply = await client.post(self.url, content=body, headers={"Content-Type": "application/json"})
            except httpx.HTTPError as error:
                self.statuses[type(error).__name__] += 1
                continue
            self.statuses[reply.status_code] += 1
            if reply.status_code == 200:
                self.versions.append(reply.json()["model"]["version"])
