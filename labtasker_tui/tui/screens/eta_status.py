"""The task list's ETA line and progress column: what the screen reads for them, and when.

The ETA follows the list's loads (a reload on a live change, a new filter) but is computed at
most every :data:`ETA_EVERY` seconds for the same selection: its reads (the running tasks,
the latest durations, the completions of the day, the workers) are small, and the counts by
status come from the load that triggered it (they are read for the sidebar anyway)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from textual import work

from ...eta import DEFAULT_STALLED_AFTER, estimate, stalled_after_setting
from ...models import Task
from ...store.progress import eta_inputs, progress_of
from ...store.task_store import Selection
from ..errors import EXPECTED
from ..widgets.eta_line import EtaLine

#: seconds between two ETA computations for the same selection (a new filter: at once), at
#: least; and at least COST_FACTOR times what the last one took (a filter over a million
#: tasks: the ETA never takes more than a tenth of the app's time)
ETA_EVERY = 5.0
COST_FACTOR = 10.0


def stalled_after() -> float:
    """The configured limit; a bad setting falls back to the default (the CLI reports it)."""
    try:
        return stalled_after_setting()
    except ValueError:
        return DEFAULT_STALLED_AFTER


class EtaStatus:
    """Mixed into the task list screen (which provides store, lt_app, _read and query_one)."""

    _eta_key: Any = None
    _eta_at: float = float("-inf")
    _eta_every: float = ETA_EVERY
    _eta_later: tuple[Selection, dict[str, int], Any] | None = None

    async def read_runs(self, tasks: Iterable[Task]) -> dict[str, Any]:
        """The progress of the running tasks among ``tasks`` (the window being loaded)."""
        ids = [t.task_id for t in tasks if t.status == "running"]
        if not ids:
            return {}
        runs: dict[str, Any] = await self._read(  # type: ignore[attr-defined]
            progress_of(self.store, ids))  # type: ignore[attr-defined]
        return runs

    def refresh_eta(self, sel: Selection, counts: Mapping[str, int], key: Any) -> None:
        """Recompute the ETA line for ``sel`` (whose counts are given) unless it was computed
        for the same ``key`` (the filter) less than ETA_EVERY seconds (or COST_FACTOR times
        its last cost) ago."""
        now = time.monotonic()
        if key == self._eta_key and now - self._eta_at < self._eta_every:
            self._eta_later = (sel, dict(counts), key)  # the clock tick computes it later
            return
        self._eta_key, self._eta_at, self._eta_later = key, now, None
        self._compute_eta(sel, dict(counts))

    def eta_tick(self) -> None:
        """Called every second (live lists): a computation skipped as too soon runs now."""
        if self._eta_later is not None and time.monotonic() - self._eta_at >= self._eta_every:
            sel, counts, key = self._eta_later
            self.refresh_eta(sel, counts, key)

    @work(group="eta", exclusive=True, exit_on_error=False)
    async def _compute_eta(self, sel: Selection, counts: dict[str, int]) -> None:
        now = self.lt_app.now()  # type: ignore[attr-defined]
        started = time.monotonic()
        try:
            inputs = await self._read(eta_inputs(  # type: ignore[attr-defined]
                self.store, sel, now=now, counts=counts))  # type: ignore[attr-defined]
        except EXPECTED:  # superseded or the database is away: the next load tries again
            self._eta_key = None
            return
        self._eta_every = max(ETA_EVERY, COST_FACTOR * (time.monotonic() - started))
        self.query_one(EtaLine).show(  # type: ignore[attr-defined]
            estimate(inputs, now, stalled_after()))
