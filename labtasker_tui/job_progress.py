"""The job API's progress writer: a background thread, so that a training loop calling
``report(step=...)`` every step never waits on the database (a locked SQLite file, a slow
server) and never dies of it.

Reports are coalesced: only the latest is kept, and it is written at most once per interval
(a final one, progress 1.0, at once). At exit the pending report gets a short grace to be
written (:data:`EXIT_GRACE` seconds), then the job exits anyway.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

EXIT_GRACE = 2.0


@dataclass(frozen=True)
class Report:
    task_id: str
    worker_id: str | None
    fraction: float
    step: float | None
    total: float | None

    @property
    def final(self) -> bool:
        return self.fraction >= 1.0


class ProgressWriter:
    """``write(report)`` runs in the writer thread (it may block); ``interval()`` is the
    least time between two writes, read before each wait."""

    def __init__(self, write: Callable[[Report], None], interval: Callable[[], float]) -> None:
        self._write = write
        self._interval = interval
        self._reset()
        if hasattr(os, "register_at_fork"):  # a forked child starts with no writer thread
            os.register_at_fork(after_in_child=self._reset)
        self._exit_hook = False

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._latest: Report | None = None
        self._busy = False
        self._urgent = False
        self._last_write = float("-inf")
        self._thread: threading.Thread | None = None

    def submit(self, report: Report) -> None:
        """Keep ``report`` as the one to write next; returns at once."""
        with self._cond:
            self._latest = report
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="labtasker-progress")
                self._thread.start()
                if not self._exit_hook:
                    self._exit_hook = True
                    atexit.register(self.flush, EXIT_GRACE)
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Write the pending report now; True when nothing is left to write in time."""
        end = time.monotonic() + timeout
        with self._cond:
            self._urgent = True
            self._cond.notify_all()
            try:
                while self._latest is not None or self._busy:
                    left = end - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
            finally:
                self._urgent = False
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._latest is None:
                        self._cond.wait()
                        continue
                    due = self._last_write + self._interval() - time.monotonic()
                    if due > 0 and not (self._latest.final or self._urgent):
                        self._cond.wait(due)
                        continue
                    report, self._latest, self._busy = self._latest, None, True
                    break
            try:
                self._write(report)
            finally:
                with self._cond:
                    self._busy = False
                    self._last_write = time.monotonic()
                    self._cond.notify_all()
