"""Progress, stalls, throughput and the ETA of a selection: plain arithmetic, no database.

The store gathers the inputs (:func:`labtasker_tui.store.progress.eta_inputs`); this module
turns them into an :class:`Estimate` at a given ``now`` (tests pass a frozen clock).

The model, in short:

- remaining work = pending + Σ over running tasks of (1 − their done fraction), where the
  fraction is the progress the job reported, else its elapsed time over the median run
  (at most 0.9: a run already longer than the median is assumed to need a bit more);
- slots = the queue's live worker slots (``worker ls`` states active and idle), at least the
  number of running tasks of the selection;
- the typical run = the median of the selection's most recent successful run durations;
- time left = max(remaining work × median run / slots, the longest running task's remainder).
  Without a finished run to time, the completions of the last hour give the rate instead;
  without either, or with pending tasks and no slot, the ETA is "unknown" (and says why).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: A running task whose progress has not moved for this long is stalled (seconds).
DEFAULT_STALLED_AFTER = 30 * 60.0
#: Hours in the completions sparkline (the last one is the last 60 minutes).
SPARK_HOURS = 24
#: How many recent successful runs the median is taken over.
HISTORY = 50
#: A running task with no progress report counts as at most this much done by its run time.
MAX_GUESSED_FRACTION = 0.9
BLOCKS = "▁▂▃▄▅▆▇█"


# -- progress values ---------------------------------------------------------------------------


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, not {type(value).__name__}")
    try:
        out = float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, not {out}")
    return out


def check_progress(progress: Any = None, step: Any = None, total: Any = None
                   ) -> tuple[float, float | None, float | None]:
    """Validated (fraction, step, total) of a progress report; raises ValueError naming the
    bad value. ``progress`` is a fraction in [0, 1]; ``step`` of ``total`` (total > 0,
    0 ≤ step ≤ total) gives it when ``progress`` is not given."""
    if step is None and total is None:
        if progress is None:
            raise ValueError("give progress=0..1, or step= and total=")
        fraction = _number(progress, "progress")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress must be between 0 and 1, not {fraction:g}")
        return fraction, None, None
    if step is None or total is None:
        raise ValueError("step and total go together (step=120, total=1000)")
    s, t = _number(step, "step"), _number(total, "total")
    if t <= 0:
        raise ValueError(f"total must be more than 0, not {t:g}")
    if not 0 <= s <= t:
        raise ValueError(f"step must be between 0 and total ({t:g}), not {s:g}")
    if progress is not None:
        fraction = _number(progress, "progress")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress must be between 0 and 1, not {fraction:g}")
    else:
        fraction = s / t
    return fraction, s, t


def _count(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,.6g}"


def progress_text(fraction: float | None, step: float | None = None,
                  total: float | None = None, *, stalled: bool = False) -> str:
    """A progress cell: '40%', '120/1000 12%', with ' stalled' when it is; blank when none."""
    if fraction is None:
        return ""
    pct = f"{math.floor(fraction * 100):d}%"
    text = f"{_count(step)}/{_count(total)} {pct}" if step is not None and total else pct
    return f"{text} stalled" if stalled else text


# -- durations -------------------------------------------------------------------------------

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, what: str = "duration") -> float:
    """'30m', '90s', '2h', '1.5h' or a number of seconds; raises ValueError."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "")
    if m is None:
        raise ValueError(f"{what}: {text!r} is not a duration (e.g. 30m, 90s, 2h)")
    seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2) or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{what}: {text!r} must be more than 0")
    return seconds


def stalled_after_setting() -> float:
    """``LABTASKER_TUI_STALLED_AFTER`` (e.g. "30m") or the default; raises ValueError."""
    from .settings import ENV_STALLED_AFTER, env

    raw = env(ENV_STALLED_AFTER)
    return DEFAULT_STALLED_AFTER if raw is None else parse_duration(raw, ENV_STALLED_AFTER)


def fmt_span(seconds: float) -> str:
    """'45 s', '12 m 40 s', '2 h 10 m', '3 d 4 h' (two units at most, the largest first)."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} m {s % 60} s" if s % 60 else f"{s // 60} m"
    if s < 86400:
        m = (s + 30) // 60  # to the minute
        return f"{m // 60} h {m % 60} m" if m % 60 else f"{m // 60} h"
    h = (s + 1800) // 3600
    return f"{h // 24} d {h % 24} h" if h % 24 else f"{h // 24} d"


def fmt_about(seconds: float) -> str:
    """An estimate, rounded as it deserves: '40 s', '46 m', '2 h 10 m', '3 d 4 h'."""
    if seconds < 120:
        return fmt_span(seconds)
    if seconds < 3570:
        return f"{int(seconds + 30) // 60} m"
    return fmt_span(seconds)


def sparkline(counts: Sequence[int]) -> str:
    """One block per count: ▁ for none, then ▂..█ by sixths of the largest (█ is the
    largest itself)."""
    top = max(counts, default=0)
    if top <= 0:
        return BLOCKS[0] * len(counts)
    return "".join(BLOCKS[0] if n <= 0 else BLOCKS[1 + math.floor(n / top * 6)] for n in counts)


def clean_durations(durations: Sequence[Any]) -> list[float]:
    """Finite, non-negative numbers only (a clock step or a hand-edited row is dropped)."""
    out = []
    for d in durations:
        if isinstance(d, int | float) and not isinstance(d, bool) and math.isfinite(d) \
                and d >= 0:
            out.append(float(d))
    return out


# -- the estimate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningTask:
    """A running task of the selection, with the progress of its current run (if any)."""

    task_id: str
    start_time: datetime | None
    progress: float | None = None
    step: float | None = None
    total: float | None = None
    moved_at: datetime | None = None


@dataclass(frozen=True)
class EtaInputs:
    counts: Mapping[str, int]  # tasks of the selection by status
    running: Sequence[RunningTask]
    durations: Sequence[float]  # recent successful run durations, seconds (newest first)
    workers: int  # live worker slots of the queue
    per_hour: Sequence[int] = ()  # completions per hour, oldest first; last = last 60 min


def is_stalled(task: RunningTask, now: datetime, stalled_after: float) -> bool:
    """Reported progress that has not moved for ``stalled_after`` seconds (a task that never
    reported progress is not judged)."""
    return task.progress is not None and task.moved_at is not None and \
        (now - task.moved_at).total_seconds() >= stalled_after


@dataclass(frozen=True)
class Estimate:
    pending: int
    running: int
    finished: int  # success + failed + cancelled in the selection
    seconds: float | None  # time left; None when unknown
    unknown: str | None  # why it is unknown
    median: float | None
    slots: int
    last_hour: int
    per_hour: tuple[int, ...]
    stalled: tuple[tuple[str, datetime], ...] = field(default=())  # (task id, moved at)
    by_rate: bool = False  # the ETA comes from the last hour's rate (no run to time)
    now: datetime | None = None

    @property
    def done(self) -> bool:
        return self.pending == 0 and self.running == 0

    @property
    def spark(self) -> str:
        return sparkline(self.per_hour)

    def eta_text(self) -> str:
        if self.done:
            return "all done" if self.finished else "nothing to run"
        if self.seconds is None:
            return f"ETA unknown: {self.unknown}"
        return f"done in about {fmt_about(self.seconds)}"

    def basis_text(self) -> str:
        rate = f"{self.last_hour:,} task{'s' * (self.last_hour != 1)}/h over the last hour"
        if self.done or self.seconds is None:
            return rate if self.last_hour else ""
        if self.by_rate:
            return f"at {rate}"
        assert self.median is not None
        return (f"median run {fmt_span(self.median)} on {self.slots:,}"
                f" slot{'s' * (self.slots != 1)}; {rate}")

    def short_basis(self) -> str:
        """The basis in a few words, for the app's line: 'median 12 m 40 s × 4 slots · 18/h'
        (the median run; the rate is the last hour's completions)."""
        rate = f"{self.last_hour:,}/h"
        if self.median is None or self.done or self.seconds is None or self.by_rate:
            return rate
        return (f"median {fmt_span(self.median)} × {self.slots:,}"
                f" slot{'s' * (self.slots != 1)} · {rate}")

    def text(self) -> str:
        """'37 pending · 4 running · done in about 2 h 10 m (median run 12 m 40 s on 4
        slots; 18 tasks/h over the last hour)', then the stalled count when there are any."""
        basis = self.basis_text()
        line = f"{self.pending:,} pending · {self.running:,} running · {self.eta_text()}"
        if basis:
            line += f" ({basis})"
        if self.stalled:
            line += f" · {len(self.stalled):,} stalled"
        return line

    def as_dict(self) -> dict[str, Any]:
        at = None
        if self.seconds is not None and self.now is not None:
            at = (self.now + timedelta(seconds=self.seconds)).isoformat()
        return {
            "pending": self.pending, "running": self.running, "finished": self.finished,
            "done": self.done, "eta_seconds": self.seconds, "eta_at": at,
            "unknown_reason": self.unknown, "median_run_seconds": self.median,
            "slots": self.slots, "by_rate": self.by_rate,
            "tasks_last_hour": self.last_hour, "completions_per_hour": list(self.per_hour),
            "sparkline": self.spark, "text": self.text(),
            "stalled": [{"task_id": t, "moved_at": m.isoformat()} for t, m in self.stalled],
        }


def estimate(inputs: EtaInputs, now: datetime,
             stalled_after: float = DEFAULT_STALLED_AFTER) -> Estimate:
    """The estimate at ``now`` (see the module's docstring for the model)."""
    counts = inputs.counts
    pending = int(counts.get("pending", 0))
    running = int(counts.get("running", 0))
    finished = sum(int(counts.get(s, 0)) for s in ("success", "failed", "cancelled"))
    durations = clean_durations(inputs.durations)
    median = statistics.median(durations) if durations else None
    slots = max(int(inputs.workers), running, len(inputs.running))
    per_hour = tuple(max(0, int(n)) for n in inputs.per_hour)
    last_hour = per_hour[-1] if per_hour else 0
    stalled = tuple((t.task_id, t.moved_at) for t in inputs.running
                    if is_stalled(t, now, stalled_after) and t.moved_at is not None)
    def made(seconds: float | None, unknown: str | None = None, by_rate: bool = False
             ) -> Estimate:
        return Estimate(pending=pending, running=running, finished=finished, seconds=seconds,
                        unknown=unknown, median=median, slots=slots, last_hour=last_hour,
                        per_hour=per_hour, stalled=stalled, by_rate=by_rate, now=now)

    if pending == 0 and running == 0:
        return made(0.0)
    if slots == 0:
        return made(None, "no active worker")
    # remainders of the running tasks, in runs (1 = a whole typical run)
    left: list[float] = []
    for t in inputs.running:
        if t.progress is not None and math.isfinite(t.progress):
            done = min(1.0, max(0.0, t.progress))
        elif median and t.start_time is not None:
            ran = max(0.0, (now - t.start_time).total_seconds())
            done = min(MAX_GUESSED_FRACTION, ran / median)
        else:
            done = 0.0
        left.append(1.0 - done)
    left += [1.0] * max(0, running - len(inputs.running))  # running tasks not listed
    work = pending + sum(left)
    if median is not None:
        return made(max(work * median / slots, max(left, default=0.0) * median))
    if last_hour > 0:
        return made(work * 3600.0 / last_hour, by_rate=True)
    return made(None, "no finished run yet to time")
