"""The scoring service behind the HTTP routes: body → rows → scores, every failure a clear status.

`ScoringService.predict(body)` never raises. It returns a `Reply`:
- 400 for a body that is not JSON (the position only, never the text);
- 413 for more rows than `max_rows` (the byte limit is enforced while reading, in the app);
- 422 for rows that do not match the model's contract, listing field paths without values;
- 200 with {"scores": [...], "model": {"name", "version"}};
- 500 only when the model itself fails on valid rows (a server fault, logged without values).

It holds no Ray or HTTP objects, so it runs the same in a Serve replica and in a plain process.

Example:
    >>> service = ScoringService(settings, ModelSource(path), ServeMetrics(), scoring)   # doctest: +SKIP
    >>> reply = await service.predict(b'{"rows": [{"I1": 3, "C1": 17}]}')                # doctest: +SKIP
    >>> reply.status, reply.payload["model"]                                             # doctest: +SKIP
    (200, {'name': 'ctr-small', 'version': 'bundle-3f2a9c1d04be'})
"""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass, field

from framework.errors import RaylaneError
from framework.serve._rows import RowsInvalid
from framework.serve._scoring import ScoringFailed

__all__ = ["Reply", "ScoringService", "ServiceSettings", "LOGGER_NAME"]

LOGGER_NAME = "raylane.serve"
logger = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class ServiceSettings:
    """What every replica needs to know; built from a ServeConfig (see `settings_from_config`)."""

    model_place: str
    reload_check_s: float = 5.0
    max_body_bytes: int = 1_048_576
    max_rows: int = 1_000
    token_digest: str | None = None  # SHA-256 of the bearer token; None = no auth (--no-auth)
    batching: bool = True
    max_batch_size: int = 64
    batch_wait_timeout_s: float = 0.0
    cpu_threads: int = 1
    metrics_push_s: float = 2.0


@dataclass
class Reply:
    status: int
    payload: dict
    headers: dict[str, str] = field(default_factory=dict)


def _detail(status: int, message: str) -> Reply:
    return Reply(status, {"detail": message})


def where_it_failed(error: BaseException) -> str:
    """`Type at file:line` of the innermost frame: enough to find a bug, without any values."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    last = frames[-1]
    return f"{type(error).__name__} at {last.filename}:{last.lineno}"


class ScoringService:
    """Validates and scores request bodies with the current model of a ModelSource."""

    def __init__(self, settings: ServiceSettings, source, metrics, scoring):
        self.settings = settings
        self.source = source
        self.metrics = metrics
        self.scoring = scoring

    def parse(self, body: bytes):
        """(document, None) or (None, a 400/413 Reply)."""
        try:
            document = json.loads(body)
        except json.JSONDecodeError as error:
            return None, _detail(400, f"malformed JSON at line {error.lineno} column {error.colno}; expected {{\"rows\": [...]}}")
        except (UnicodeDecodeError, RecursionError):
            return None, _detail(400, "malformed JSON: the body must be UTF-8 JSON, nested no deeper than the interpreter allows")
        rows = document.get("rows") if isinstance(document, dict) else None
        if isinstance(rows, list) and len(rows) > self.settings.max_rows:
            return None, _detail(413, f"{len(rows)} rows; at most {self.settings.max_rows} rows per request")
        return document, None

    async def predict(self, body: bytes) -> Reply:
        document, refusal = self.parse(body)
        if refusal is not None:
            return refusal
        model = self.source.current  # kept to the end: a model switch never changes it mid-request
        try:
            rows = model.rows.validate(document)
        except RowsInvalid as invalid:
            return Reply(422, {"detail": invalid.problems, "errors": invalid.total})
        try:
            scores = await self.scoring(model, model.rows.to_table(rows))
        except ScoringFailed as failure:
            if isinstance(failure.cause, RaylaneError):  # the pipeline refused input the contract allowed
                logger.warning("rows refused by the pipeline: %s", where_it_failed(failure.cause))
                problem = {"loc": ["rows"], "msg": "the model's feature pipeline refused these rows", "type": "pipeline"}
                return Reply(422, {"detail": [problem], "errors": 1})
            logger.error("scoring failed on %d valid rows: %s", len(rows), where_it_failed(failure.cause))
            return _detail(500, "the model failed on these rows; the error is logged on the server")
        return Reply(200, {"scores": scores.tolist(), "model": model.describe()})
