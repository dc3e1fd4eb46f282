"""The app's latency on a large queue: time to the first rows, and from Enter to filtered rows.

Usage: python benchmarks/app_latency_bench.py [--db /tmp/lt-1m.db] [--n 1000000] [--runs 3]

Builds the database once with benchmarks/seed.py (kept: the 1M seed takes a minute and ~700 MB)
and drives the real app headless (Textual ``run_test``, a real store, the real filter bar):

- first rows: from the app's start to the first window of tasks in the table;
- filter applied: from Enter in the filter bar (typed at once after launch, while the first
  counts may still run) to the table showing only matching rows. An indexed filter
  (``task_name == …``, index ix_tasks_name) and an unindexed one (``args.lr > …``) for
  information. Targets at 1M tasks: first rows ≤ 1 s, indexed filter ≤ 0.5 s.

Prints the median of ``--runs`` runs of each.

``--process``: the first rows as a user sees them, process start included: the real
``labtasker-tui --db FILE`` in a detached tmux session (120x36), its screen polled with
``tmux capture-pane`` until a task row shows; prints the wall time from launch and the CPU
time (user + system, from /proc) the app process had spent by then, which a busy machine
disturbs far less. The session is ended by its name when done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FILTERS = {
    "indexed filter (task_name == 'run-424242')": ("task_name == 'run-424242'",
                                                   lambda t: t.task_name == "run-424242"),
    "unindexed filter (args.lr > 0.09)": ("args.lr > 0.09",
                                          lambda t: t.args.get("lr", 0) > 0.09),
}


async def _poll(cond, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    while not cond():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the app did not show the rows in time")
        await asyncio.sleep(0.001)
    return time.perf_counter()


async def one_run(url: str, flt: str | None, match) -> tuple[float, float | None]:
    from labtasker_tui.tui.app import LabtaskerApp
    from labtasker_tui.tui.screens.task_list import TaskListScreen
    from labtasker_tui.tui.widgets.filter_bar import FilterBar

    app = LabtaskerApp(url, live=False)
    t0 = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        def screen() -> TaskListScreen | None:
            s = app.screen
            return s if isinstance(s, TaskListScreen) else None

        t_rows = await _poll(lambda: bool(screen() and screen().tasks))
        first = t_rows - t0
        if flt is None:
            return first, None
        scr = screen()
        bar = scr.query_one(FilterBar)
        bar.input.value = flt
        bar.input.focus()
        await pilot.pause(0)
        t_enter = time.perf_counter()
        # the key is pressed in its own task: pilot.press returns only once the app is idle
        # (the counts done too), while the user sees the rows as soon as the table has them
        press = asyncio.create_task(pilot.press("enter"))
        t_rows = await _poll(lambda: bool(scr.tasks) and all(match(t) for t in scr.tasks)
                             and len(scr.table.rows) == len(scr.tasks))
        applied = t_rows - t_enter
        await press
        await app.store.close()
        return first, applied


ROW = re.compile(r"\b[0-9a-f]{8}\s+\S+\s+(pending|running|success|failed|cancelled)\b")


def _cpu_seconds(pid: int) -> float:
    """User + system seconds of ``pid`` (and its waited-for children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def process_run(db: Path, timeout: float = 60.0) -> tuple[float, float]:
    """(wall, CPU) seconds from launching the app in tmux to its first task row on screen."""
    exe = Path(sys.executable).parent / "labtasker-tui"
    name = f"ltbench{os.getpid()}"
    t0 = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "36",
                    f"exec {shlex.quote(str(exe))} --db {shlex.quote(str(db))}"], check=True)
    try:
        pid = int(subprocess.run(["tmux", "display-message", "-p", "-t", name, "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout)
        while time.perf_counter() - t0 < timeout:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", name],
                                    capture_output=True, text=True).stdout
            if ROW.search(screen):
                return time.perf_counter() - t0, _cpu_seconds(pid)
            time.sleep(0.005)
        raise TimeoutError("the app showed no task row in time")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def main() -> None:
    from bench_env import compiled_like_an_install

    compiled_like_an_install()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="/tmp/lt-1m.db")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--process", action="store_true",
                    help="first rows of the real program in tmux, process start included")
    opts = ap.parse_args()
    db = Path(opts.db)
    if not db.exists():
        from benchmarks.seed import build

        print(f"seeding {opts.n:,} tasks into {db} (once) …", flush=True)
        build(db, opts.n)
    if opts.process:
        runs = [process_run(db) for _ in range(opts.runs)]
        print(f"app first rows on {db.name}, process start included (median of {opts.runs};"
              " tmux 120x36)")
        print(f"  wall {statistics.median(w for w, _ in runs):6.3f} s   CPU "
              f"{statistics.median(c for _, c in runs):6.3f} s   (target ≤ 1 s)")
        return
    url = f"sqlite+aiosqlite:///{db}"
    firsts: list[float] = []
    results: dict[str, list[float]] = {name: [] for name in FILTERS}
    for _ in range(opts.runs):
        for name, (flt, match) in FILTERS.items():
            first, applied = asyncio.run(one_run(url, flt, match))
            firsts.append(first)
            results[name].append(applied or 0.0)
    print(f"app latency on {db.name} (median of {opts.runs}; Textual headless, real store)")
    print(f"  first rows after launch            {statistics.median(firsts):6.3f} s"
          "   (target ≤ 1 s)")
    for name, times in results.items():
        target = "   (target ≤ 0.5 s)" if name.startswith("indexed") else ""
        print(f"  Enter → {name:<44} {statistics.median(times):6.3f} s{target}")


if __name__ == "__main__":
    main()
