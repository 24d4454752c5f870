"""What a person sees in the terminal: raylane's own lines; Ray's internal logging goes to a file.

Ray prints a lot that matters only when debugging: every Ray Data execution plan, controller and
placement-group chatter, core-worker warnings, each worker's setup lines. By default raylane sends all
of it to a log file (the run's directory, or `$RAYLANE_HOME/logs` for commands without one) and prints
the file's path once. What reaches the terminal:
- raylane's own lines (`[train] ...`, `[sweep] ...`), printed by the driver, or by rank 0 of the workers;
- Ray warnings that matter, rewritten as raylane's own message (`ACTIONABLE`);
- with `--verbose` or `RAYLANE_LOG=debug`: everything, as Ray prints it.

Worker lines arrive through Ray's log streaming; a handler replaces Ray's printer on that stream and
routes each line. Driver-side Ray loggers (and Python warnings) get a file handler instead of the console.

Example:
    >>> console = Console.setup(verbose=False)                                 # doctest: +SKIP
    >>> console.log_to(run_dir / "raylane.log")                                # doctest: +SKIP
    logs: runs/ctr-small/raylane.log (Ray's own output; --verbose shows it here)
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from pathlib import Path

__all__ = ["ACTIONABLE", "Console", "OWN_PREFIXES", "current_log", "is_raylane_line", "log_to", "verbose"]

OWN_PREFIXES = ("[train]", "[sweep]", "[score]", "[serve]", "[nightly]", "[demo]", "[data]", "[features]", "[raylane]")
LOG_FILE = "raylane.log"
_RAY_LOGGERS = ("ray", "ray.data", "ray.train", "ray.tune", "ray.serve", "ray.air", "py.warnings")

# Ray messages that mean the job will not finish, rewritten as what to do about them.
ACTIONABLE = (
    (re.compile(r"does not have any available CPUs\. The Dataset job will hang"),
     "[raylane] Ray Data has no free CPU for its tasks right now: its work waits until one frees up. If that "
     "persists, lower scaling.resources_per_worker (or pool.cpus_per_actor), or add CPUs; the stall watchdog "
     "ends a job that stops progressing after run.stall_timeout_s"),
    (re.compile(r"No available node types can fulfill resource request (\{.*?\})"),
     "[raylane] no node of this cluster can ever hold {0}: the request waits forever; lower it or add such a node"),
)


def is_raylane_line(line: str) -> bool:
    return line.lstrip().startswith(OWN_PREFIXES)


def verbose() -> bool:
    return os.environ.get("RAYLANE_LOG", "").lower() == "debug"


class _Router:
    """Where hidden lines go: one append-mode file, switchable while the process runs."""

    def __init__(self):
        self.path: Path | None = None
        self.pinned = False  # a job made of several runs (the demo, the nightly loop) keeps one file
        self._file = None
        self._lock = threading.Lock()
        self._pending: list[str] = []  # lines that came before any file was chosen
        self._said: set[str] = set()

    def open(self, path: Path) -> bool:
        with self._lock:
            if self.path == path:
                return False
            path.parent.mkdir(parents=True, exist_ok=True)
            if self._file is not None:
                self._file.close()
            self.path, self._file = path, open(path, "a", encoding="utf-8", buffering=1)
            self._file.write(f"--- raylane {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}\n")
            self._file.writelines(self._pending)
            self._pending = []
            return True

    def write(self, text: str) -> None:
        with self._lock:
            if self._file is None:
                self._pending.append(text)
            else:
                self._file.write(text)

    def say_once(self, message: str) -> None:
        """An ACTIONABLE message, on the terminal, once per process."""
        if message not in self._said:
            self._said.add(message)
            print(message, file=sys.stderr, flush=True)


_router = _Router()


class _FileHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a bad log record must never break the job
            return
        _route_line(text, f"({record.name})")


def _route_line(line: str, origin: str) -> None:
    for pattern, message in ACTIONABLE:
        found = pattern.search(line)
        if found:
            _router.say_once(message.format(*found.groups()))
    _router.write(f"{origin} {line}\n" if origin else f"{line}\n")


def _worker_lines(data: dict) -> None:
    """Ray's log stream: raylane's lines to the terminal, the rest to the file."""
    who = data.get("actor_name") or data.get("task_name") or ""
    origin = f"({who} pid={data.get('pid')})" if data.get("pid") not in ("autoscaler", "raylet") else f"({data.get('pid')})"
    for line in data.get("lines", []):
        if is_raylane_line(line):
            print(line, file=sys.stdout, flush=True)
        else:
            _route_line(line, origin)


def _file_handler() -> logging.Handler:
    handler = _FileHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def quiet_ray_loggers() -> None:
    """Ray's driver-side loggers and Python warnings write to the log file, not the console."""
    logging.captureWarnings(True)
    handler = _file_handler()
    for name in _RAY_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if isinstance(old, logging.StreamHandler) and getattr(old, "stream", None) in (sys.stderr, sys.stdout):
                logger.removeHandler(old)
        if not any(isinstance(h, _FileHandler) for h in logger.handlers):
            logger.addHandler(handler)
        logger.propagate = False


def route_worker_logs() -> None:
    """Replace Ray's printer of worker output (call after ray.init with log_to_driver=True).

    Two streams reach it: worker output, through Ray's log dispatcher, and the cluster's error
    channel (`(raylet) Task ... failed ... will be retried`), which the driver's error-listener thread
    prints by calling `ray._private.worker.print_to_stdstream` itself. Both go through `_worker_lines`,
    so an ACTIONABLE error there still reaches the terminal as raylane's message."""
    import ray._private.worker as ray_worker
    from ray._private.ray_logging import global_worker_stdstream_dispatcher

    global_worker_stdstream_dispatcher.remove_handler("ray_print_logs")
    global_worker_stdstream_dispatcher.remove_handler("raylane")
    global_worker_stdstream_dispatcher.add_handler("raylane", _worker_lines)
    ray_worker.print_to_stdstream = _error_channel_lines


def _error_channel_lines(data: dict, ignore_prefix: bool = False) -> None:
    """`print_to_stdstream`'s signature, for the error-listener thread (see `route_worker_logs`)."""
    _worker_lines(data)


def current_log() -> Path | None:
    """The log file Ray's output goes to (None when shown in the terminal or not chosen yet)."""
    return _router.path


def default_log() -> Path:
    from framework.config.home import raylane_home

    return raylane_home() / "logs" / f"raylane-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def log_to(path: str | os.PathLike | None = None, pin: bool = False) -> Path | None:
    """Send hidden output to `path` (a run's `raylane.log`; default `$RAYLANE_HOME/logs/...`), saying so once.
    `pin`: the whole job keeps this file, whatever its runs ask for later. Nothing is hidden in verbose
    mode, or when no entry point chose quiet output (`Console.setup`)."""
    if verbose() or not Console.active:
        return None
    if _router.pinned:
        return _router.path
    path = Path(path) if path is not None else (_router.path or default_log())
    _router.pinned = pin
    if _router.open(path):
        print(f"logs: {path} (Ray's own output; --verbose shows it here)", flush=True)
    return path


class Console:
    """The process-wide choice, made by the entry point (the CLI, a job's `__main__`): quiet (the
    default) or verbose. Library use (tests, notebooks) keeps Ray's own output unless it calls `setup`."""

    active = False

    @classmethod
    def setup(cls, verbose_flag: bool = False) -> None:
        if verbose_flag:
            os.environ["RAYLANE_LOG"] = "debug"
        cls.active = True
        if verbose():
            return
        os.environ.setdefault("RAY_SCHEDULER_EVENTS", "0")  # the autoscaler's tips in every driver's output
        # Tune's new output engine prints its experiment box, results path and TensorBoard hint even at
        # verbose=0; the legacy engine prints nothing at verbose=0 (the sweep's RunConfig asks for 0).
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        import ray  # noqa: F401 - Ray sets up its loggers on import; replace their console handlers after

        quiet_ray_loggers()

    @classmethod
    def reclaim_ray_loggers(cls) -> None:
        """Take Ray's loggers back after a library set up its own console handler: importing
        `ray.serve` clears the `ray.serve` logger's handlers and adds one that prints to stderr."""
        if cls.active and not verbose():
            quiet_ray_loggers()

    @classmethod
    def after_ray_init(cls) -> None:
        """Called by `ensure_ray` once Ray is up (Ray Data configures its logger on import)."""
        if not cls.active or verbose():
            return
        import ray.data  # noqa: F401

        quiet_ray_loggers()
        route_worker_logs()
        log_to(None)
