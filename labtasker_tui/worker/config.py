"""The loop's settings and tallies: durations (``1h30m``), slots (``--gpus 0,1``,
``--workers N``), :class:`LoopConfig` (validated limits) and :class:`LoopStats` (what happened,
which decides the exit code)."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_SECONDS = 10 * 365 * 86400.0

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``50s``, ``1h30m``, ``1.5h``, ``1 hour, 30 minutes``."""
    s = text.strip().lower()
    if not s:
        raise ValueError("empty duration")
    total = 0.0
    pos = 0
    cleaned = re.sub(r"(,|\band\b)", " ", s)
    for m in _DURATION_RE.finditer(cleaned):
        if cleaned[pos:m.start()].strip():
            raise ValueError(f"cannot read duration {text!r}")
        unit = m.group(2) or "s"
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in duration {text!r}")
        total += float(m.group(1)) * _UNITS[unit]
        pos = m.end()
    if pos == 0 or cleaned[pos:].strip():
        raise ValueError(f"cannot read duration {text!r} (try 90, 50s, 1h30m, 1.5h)")
    return total


def parse_slots(gpus: str | None, workers: int | None) -> list[str | None]:
    """Slots from ``--gpus 0,1,2`` (``0+1`` = two GPUs for one job) and ``--workers N``.

    With both, N workers are spread round-robin over the GPUs."""
    if workers is not None and workers < 1:
        raise ValueError("--workers must be at least 1")
    if not gpus:
        return [None] * (workers or 1)
    ids = [g.strip() for g in gpus.split(",")]
    if any(not re.fullmatch(r"[0-9]+(\+[0-9]+)*", g) for g in ids):
        raise ValueError(f"--gpus expects device numbers like 0,1,2 (or 0+1 to share): {gpus!r}")
    n = workers or len(ids)
    return [ids[i % len(ids)] for i in range(n)]


@dataclass
class LoopConfig:
    url: str
    queue: str
    command: str | list[str]
    where: Any = None                  # SQL condition from -f (a ColumnElement)
    required_fields: list[str] = field(default_factory=list)
    heartbeat_timeout: float | None = 30.0
    heartbeat_interval: float | None = None   # default: min(10 s, heartbeat_timeout / 3)
    task_timeout: int | None = None
    slots: list[str | None] = field(default_factory=lambda: [None])
    follow: bool = False
    poll_interval: float = 2.0
    worker_max_failures: int = 3
    worker_name: str | None = None
    worker_id: str | None = None       # re-use this worker row (single slot only)
    log_root: Path | None = None
    quiet: bool = False
    status_line: bool | None = None    # default: several slots and stderr is a terminal

    def validate(self) -> None:
        """Reject negative, zero, NaN or infinite timeouts and intervals (ValueError)."""
        checks: list[tuple[str, float | None, float]] = [
            ("--heartbeat-timeout", self.heartbeat_timeout, 1.0),
            ("heartbeat interval", self.heartbeat_interval, 0.05),
            ("--eta-max/--task-timeout", self.task_timeout, 1.0),
            ("poll interval", self.poll_interval, 0.01),
        ]
        for name, value, low in checks:
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value) or not low <= value <= MAX_SECONDS:
                raise ValueError(f"{name} must be a duration from {low:g}s to 10 years,"
                                 f" not {value!r}")
        if not self.slots:
            raise ValueError("at least one worker slot is needed")
        if self.worker_max_failures < 0:
            raise ValueError("--max-worker-failures must be 0 or more")

    @property
    def interval(self) -> float:
        if self.heartbeat_interval is not None:
            return self.heartbeat_interval
        if self.heartbeat_timeout:
            return max(0.2, min(10.0, self.heartbeat_timeout / 3))
        return 10.0


@dataclass
class LoopStats:
    success: int = 0
    failed: int = 0        # finally failed
    retried: int = 0       # failed, back to pending
    released: int = 0      # interrupted, back to pending
    lost: int = 0          # taken away (timed out, cancelled) while running
    running: int = 0
    crashed_workers: int = 0
    fenced: int = 0        # killed because the lease could not be renewed
    interrupted: bool = False
    abandoned: bool = False  # a database call was left blocked at stop: exit without cleanup
    fatal: str | None = None  # the database error that stopped the loop
    claimed: int = 0          # tasks this loop took
    registered: bool = False  # the workers were registered (the database was usable)
    unmatched: str | None = None  # why pending tasks exist but none could be claimed
    stopped_on_fatal: int = 0  # jobs killed because of it
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.success + self.failed + self.retried

    def line(self) -> str:
        parts = [f"{self.running} running", f"{self.success} done", f"{self.failed} failed"]
        if self.retried:
            parts.append(f"{self.retried} retried")
        if self.released:
            parts.append(f"{self.released} released")
        if self.lost:
            parts.append(f"{self.lost} lost")
        if self.fenced:
            parts.append(f"{self.fenced} fenced")
        return " | ".join(parts)

