"""An append-only, hash-chained JSONL audit log of every train, sweep, score, promote, rollback and
nightly decision.

Each line is one JSON record. `prev` is the sha256 of the previous line's record (64 zeros for the
first); `hash` is the sha256 of this record's canonical JSON without `hash`. Editing a record breaks
its own hash; removing or reordering records breaks the chain (`seq` and `prev`). A record of the
last sequence number and hash is kept beside the log (`<log>.head`), so truncating the tail is caught
too. The chain proves integrity, not authorship: whoever can rewrite the whole file and its head can
forge a consistent history, so keep a copy of the head hash elsewhere (a ticket, a commit) when it
matters.

Example:
    >>> log = AuditLog("/tmp/audit.jsonl")                                          # doctest: +SKIP
    >>> log.append("train", "ok", model={"name": "ctr", "version": "1"}, config_hash="ab12...")  # doctest: +SKIP
    >>> log.verify()                                                                # doctest: +SKIP
    AuditVerification(ok=True, records=1, first_bad_line=None, reason=None)
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from framework.errors import ConfigError

__all__ = ["ACTIONS", "AuditLog", "AuditVerification", "audit_identity", "default_audit_path"]

ACTIONS = ("train", "sweep", "score", "promote", "rollback", "nightly", "register")
GENESIS = "0" * 64
_FIELDS = ("seq", "time", "who", "action", "outcome", "model", "config_hash", "data_hash", "code_version", "details", "prev")


def default_audit_path() -> Path:
    """`$RAYLANE_AUDIT_LOG`, else `$RAYLANE_HOME/audit/audit.jsonl`."""
    from framework.config.home import raylane_home

    configured = os.environ.get("RAYLANE_AUDIT_LOG")
    return Path(configured).expanduser() if configured else raylane_home() / "audit" / "audit.jsonl"


def audit_identity() -> str:
    """Who acts: `$RAYLANE_IDENTITY` when set (a service account, say), else the OS user."""
    try:
        return os.environ.get("RAYLANE_IDENTITY") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        return f"uid:{os.getuid()}"


def _canonical(record: dict) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def record_hash(record: dict) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in record.items() if k != "hash"})).hexdigest()


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of `AuditLog.verify`: the first bad line (1-based) and why, or ok."""

    ok: bool
    records: int
    first_bad_line: int | None = None
    reason: str | None = None


class AuditLog:
    """The audit log at `path`. Appends are serialised with an exclusive file lock, so several
    processes on one machine (a nightly job and a promotion, say) never interleave or fork the chain."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")

    @classmethod
    def default(cls) -> "AuditLog":
        return cls(default_audit_path())

    def append(self, action: str, outcome: str, *, model: dict | None = None, config_hash: str | None = None,
               data_hash: str | None = None, details: dict | None = None) -> dict:
        """Add one record and return it. `details` must hold no raw data values (PII policy)."""
        if action not in ACTIONS:
            raise ConfigError(f"audit action {action!r}: expected one of {', '.join(ACTIONS)}")
        from framework.lineage import code_version

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            seq, prev = self._tail(handle)
            record = {
                "seq": seq + 1, "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
                "who": audit_identity(), "action": action, "outcome": outcome, "model": model,
                "config_hash": config_hash, "data_hash": data_hash, "code_version": code_version(),
                "details": details or {}, "prev": prev,
            }
            record["hash"] = record_hash(record)
            handle.write(_canonical(record) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            self._write_head(record)
        return record

    def _tail(self, handle) -> tuple[int, str]:
        """(seq, hash) of the last record, read from the end of the locked file."""
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return 0, GENESIS
        handle.seek(max(0, size - 65536))
        last = handle.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            record = json.loads(last)
            return int(record["seq"]), str(record["hash"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{self.path}: the last line is not an audit record; run `raylane audit verify`") from None

    def _write_head(self, record: dict) -> None:
        temporary = self.head_path.with_name(self.head_path.name + ".tmp")
        temporary.write_text(json.dumps({"seq": record["seq"], "hash": record["hash"]}) + "\n")
        os.replace(temporary, self.head_path)

    def records(self) -> Iterator[dict]:
        """Every record, in file order (no verification; see `verify`)."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    def verify(self) -> AuditVerification:
        """Check every record's hash and the chain; name the first bad line."""
        if not self.path.exists():
            return AuditVerification(ok=True, records=0)
        prev, count = GENESIS, 0
        with open(self.path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                problem = _check_line(line, number, prev)
                if problem:
                    return AuditVerification(False, count, number, problem)
                record = json.loads(line)
                prev, count = record["hash"], count + 1
        return self._check_head(count, prev)

    def _check_head(self, count: int, last_hash: str) -> AuditVerification:
        if not self.head_path.exists():
            reason = None if count == 0 else f"{self.head_path} is missing; the tail of the log cannot be checked"
            return AuditVerification(count == 0, count, None if count == 0 else count, reason)
        head = json.loads(self.head_path.read_text())
        if head.get("seq") != count or head.get("hash") != last_hash:
            return AuditVerification(
                False, count, count + 1,
                f"the log ends at record {count} but {self.head_path.name} records {head.get('seq')}: records were removed from the end",
            )
        return AuditVerification(True, count)

    def history(self, name: str, version: str) -> list[dict]:
        """Every record about model NAME/VERSION, plus the runs that share its config or data hash
        (the training and sweep behind it)."""
        about = [r for r in self.records() if (r.get("model") or {}).get("name") == name
                 and str((r.get("model") or {}).get("version")) == str(version)]
        hashes = {r.get("config_hash") for r in about if r.get("config_hash")}
        behind = [r for r in self.records() if r not in about and r.get("config_hash") in hashes]
        return sorted(about + behind, key=lambda r: r["seq"])


def _check_line(line: bytes, number: int, prev: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return f"line {number} is not valid JSON"
    if not isinstance(record, dict) or set(record) != {*_FIELDS, "hash"}:
        return f"line {number} does not have the audit record fields"
    if record["seq"] != number:
        return f"line {number} has seq {record['seq']}: a record was removed or reordered before it"
    if record["prev"] != prev:
        return f"line {number} does not chain to the record before it: records were removed or reordered"
    if record_hash(record) != record["hash"]:
        return f"line {number} was edited: its hash does not match its content"
    return None
