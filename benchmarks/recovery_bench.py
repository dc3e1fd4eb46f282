"""Recovery after `kill -9` of a `loop`, and a chaos run that must give zero double runs.

Usage: python benchmarks/recovery_bench.py [--tasks 2000] [--loops 4] [--workers 2]
           [--kill-every 3] [--heartbeat-timeout 3] [--repeat 5] [--pg URL] [--db PATH]

(a) recovery: one task runs on loop A while loop B waits (--follow). A is killed with
    SIGKILL; printed: time until A's job is gone, and until the task runs again on B.
(b) chaos: --loops processes x --workers slots over --tasks short jobs; every --kill-every
    seconds one loop is killed with SIGKILL and a new one started. Each job appends
    "start/end task pid time" lines (O_APPEND) to one file and, when it starts, checks that
    no earlier run of its task is still alive. At the end: tasks finished, overlapping runs
    (must be 0), tasks reported success twice (must be 0), jobs that outlived their loop.

SQLite by default (a fresh file); ``--pg URL`` runs the same on PostgreSQL in a fresh queue.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

EXE = [sys.executable, "-m", "labtasker_tui"]

JOB = r"""
import os, sys, time
log, dur = sys.argv[1], float(sys.argv[2])
task = os.environ["LABTASKER_TASK_ID"]

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

fd = os.open(log, os.O_RDWR | os.O_APPEND | os.O_CREAT)
with open(log) as f:
    mine = [ln.split() for ln in f if f" {task} " in ln]
for rec in mine:
    if rec[0] == "start" and alive(int(rec[2])):
        os.write(fd, f"OVERLAP {task} {rec[2]} {os.getpid()}\n".encode())
if any(rec[0] == "start" for rec in mine):
    dur = min(dur, 0.1)   # a re-run is short
os.write(fd, f"start {task} {os.getpid()} {time.time():.6f}\n".encode())
time.sleep(dur)
os.write(fd, f"end {task} {os.getpid()} {time.time():.6f}\n".encode())
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Bench:
    def __init__(self, db: str, queue: str, work: Path, hb: float) -> None:
        self.db, self.queue, self.work, self.hb = db, queue, work, hb
        self.script = work / "job.py"
        self.script.write_text(JOB)
        self.log = work / "runs.log"
        self.log.touch()
        self.cli("init")  # loops refuse a database that does not exist yet

    def cli(self, *args: str, input: str | None = None) -> str:
        res = subprocess.run([*EXE, "--db", self.db, "--queue", self.queue, *args],
                             input=input, capture_output=True, text=True, cwd=self.work)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(args[:2])} failed: {res.stderr.strip()}")
        return res.stdout

    def submit(self, durations: list[float]) -> list[str]:
        lines = "".join(json.dumps({"args": {"d": d}, "max_retries": 50}) + "\n"
                        for d in durations)
        return self.cli("submit", "-q", "--file", "-", input=lines).split()

    def loop(self, workers: int, errfile: Path) -> subprocess.Popen:
        err = open(errfile, "ab")  # noqa: SIM115 - kept open by the child
        proc = subprocess.Popen(
            [*EXE, "--db", self.db, "--queue", self.queue, "loop", "--follow",
             "--poll-interval", "0.2", "--heartbeat-timeout", str(self.hb),
             "--workers", str(workers), "--",
             sys.executable, "-I", "-S", str(self.script), str(self.log), "%(d)"],
            cwd=self.work, stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        return proc

    def records(self) -> list[list[str]]:
        return [ln.split() for ln in self.log.read_text().splitlines() if ln.strip()]

    def counts(self) -> dict[str, int]:
        out = self.cli("count", "--format", "json")
        data = json.loads(out)
        return data if isinstance(data, dict) else {}

    def running_pids(self) -> dict[int, str]:
        """pid -> task of jobs that started and did not end."""
        open_runs: dict[int, str] = {}
        for rec in self.records():
            if rec[0] == "start":
                open_runs[int(rec[2])] = rec[1]
            elif rec[0] == "end":
                open_runs.pop(int(rec[2]), None)
        return {p: t for p, t in open_runs.items() if alive(p)}


def recovery(bench: Bench, repeat: int) -> None:
    print(f"(a) recovery after kill -9 of a loop (heartbeat timeout {bench.hb:g}s)")
    gone_ms: list[float] = []
    again_s: list[float] = []
    waiter = bench.loop(1, bench.work / "b.err")
    time.sleep(1.0)
    for i in range(repeat):
        (tid,) = bench.submit([60.0])
        victim = bench.loop(1, bench.work / "a.err")
        deadline = time.monotonic() + 30
        pid = None
        while pid is None and time.monotonic() < deadline:
            starts = [r for r in bench.records() if r[0] == "start" and r[1] == tid]
            if starts:
                pid = int(starts[0][2])
            time.sleep(0.01)
        if pid is None:
            raise SystemExit("the job never started")
        # the waiting loop may have claimed it first: kill whichever runs the job
        time.sleep(random.uniform(0.2, bench.hb / 2))
        t0 = time.monotonic()
        owner = victim if _owns(victim.pid, pid) else waiter
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        gone = None
        again = None
        while again is None and time.monotonic() - t0 < 4 * bench.hb + 10:
            if gone is None and not alive(pid):
                gone = time.monotonic() - t0
            starts = [r for r in bench.records() if r[0] == "start" and r[1] == tid]
            if len(starts) > 1:
                again = time.monotonic() - t0
            time.sleep(0.002)
        if gone is None or again is None:
            raise SystemExit("no recovery")
        gone_ms.append(gone * 1000)
        again_s.append(again)
        print(f"  run {i + 1}: job gone after {gone * 1000:.0f} ms; task running again on the"
              f" other loop after {again:.2f} s")
        waiter = waiter if owner is victim else victim   # the survivor waits for the next
        time.sleep(0.5)
    waiter.send_signal(signal.SIGINT)
    waiter.wait(20)
    print(f"  median: job gone {statistics.median(gone_ms):.0f} ms (max {max(gone_ms):.0f});"
          f" task reclaimed {statistics.median(again_s):.2f} s after the kill"
          f" (max {max(again_s):.2f})")


def _owns(loop_pid: int, job_pid: int) -> bool:
    try:
        with open(f"/proc/{job_pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return False
    return ppid == loop_pid


def chaos(bench: Bench, tasks: int, loops: int, workers: int, kill_every: float) -> bool:
    print(f"(b) chaos: {loops} loops x {workers} workers, {tasks} tasks, one loop killed"
          f" (SIGKILL) every {kill_every:g}s and restarted")
    rng = random.Random(7)
    bench.submit([round(rng.uniform(0.02, 0.2), 3) for _ in range(tasks)])
    errs = [bench.work / f"chaos{i}.err" for i in range(loops)]
    procs = [bench.loop(workers, errs[i]) for i in range(loops)]
    t0 = time.monotonic()
    kills = 0
    outlived: list[float] = []
    next_kill = t0 + kill_every
    pending_deaths: list[tuple[int, float]] = []
    death_ms: list[float] = []
    while True:
        now = time.monotonic()
        counts = bench.counts()
        done = counts.get("success", 0) + counts.get("failed", 0) + counts.get("cancelled", 0)
        if done >= tasks:
            break
        if now - t0 > 1800:
            print("  gave up after 30 min")
            break
        if now >= next_kill:
            i = rng.randrange(loops)
            kids = [p for p in bench.running_pids() if _owns(procs[i].pid, p)]
            t_kill = time.monotonic()
            procs[i].send_signal(signal.SIGKILL)
            procs[i].wait()
            kills += 1
            while kids and time.monotonic() - t_kill < 3:
                for p in [p for p in kids if not alive(p)]:
                    kids.remove(p)
                    death_ms.append((time.monotonic() - t_kill) * 1000)
                time.sleep(0.002)
            pending_deaths += [(p, t_kill) for p in kids]
            procs[i] = bench.loop(workers, errs[i])
            next_kill = now + kill_every
        still = []
        for pid, t_kill in pending_deaths:
            if alive(pid):
                if time.monotonic() - t_kill > 5:
                    outlived.append(time.monotonic() - t_kill)
                else:
                    still.append((pid, t_kill))
        pending_deaths = still
        time.sleep(0.2)
    elapsed = time.monotonic() - t0
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(30)
    recs = bench.records()
    overlaps = [r for r in recs if r[0] == "OVERLAP"]
    ends = Counter(r[1] for r in recs if r[0] == "end")
    starts = Counter(r[1] for r in recs if r[0] == "start")
    # interval check on completed runs too (independent of the in-job check)
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    begun: dict[str, float] = {}
    for r in recs:
        if r[0] == "start":
            begun[r[2]] = float(r[3])
        elif r[0] == "end" and r[2] in begun:
            spans[r[1]].append((begun[r[2]], float(r[3])))
    span_overlaps = 0
    for s in spans.values():
        s.sort()
        span_overlaps += sum(1 for a, b in zip(s, s[1:], strict=False) if b[0] < a[1])
    success_notes: Counter[str] = Counter()
    for e in errs:
        for m in re.finditer(r"task ([0-9a-f]{8})\S* success in", e.read_text(errors="replace")):
            success_notes[m.group(1)] += 1
    final = bench.counts()
    print(f"  {elapsed:.1f}s, {kills} loops killed, {sum(starts.values())} runs started for"
          f" {len(starts)} tasks")
    print(f"  tasks finished: {final.get('success', 0)} success, {final.get('failed', 0)}"
          f" failed, {final.get('pending', 0)} pending, {final.get('running', 0)} running")
    print(f"  overlapping runs of one task: {len(overlaps) + span_overlaps} (must be 0)")
    print(f"  tasks reported success twice: {sum(1 for c in success_notes.values() if c > 1)}"
          " (must be 0)")
    print(f"  jobs whose run completed twice (loop killed between job end and report,"
          f" re-run after the heartbeat timeout): {sum(1 for c in ends.values() if c > 1)}")
    if death_ms:
        print(f"  jobs of killed loops: {len(death_ms)}, gone after median"
              f" {statistics.median(death_ms):.0f} ms, max {max(death_ms):.0f} ms")
    print(f"  jobs alive 5 s after their loop was killed: {len(outlived)} (must be 0)")
    return not overlaps and not span_overlaps and not outlived and \
        all(c == 1 for c in success_notes.values()) and final.get("success", 0) == tasks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--loops", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kill-every", type=float, default=3.0)
    ap.add_argument("--heartbeat-timeout", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pg", metavar="URL")
    ap.add_argument("--db", metavar="PATH")
    ap.add_argument("--skip-recovery", action="store_true")
    ap.add_argument("--skip-chaos", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = a.pg or a.db or str(work / "tasks.db")
        print(f"backend: {'postgresql' if a.pg else 'sqlite'}")
        ok = True
        if not a.skip_recovery:
            q = "rec" + uuid.uuid4().hex[:8]
            (work / "rec").mkdir()
            recovery(Bench(db, q, work / "rec", a.heartbeat_timeout), a.repeat)
        if not a.skip_chaos:
            q = "chaos" + uuid.uuid4().hex[:8]
            (work / "chaos").mkdir()
            ok = chaos(Bench(db, q, work / "chaos", a.heartbeat_timeout), a.tasks, a.loops,
                       a.workers, a.kill_every)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
