"""Where a headless command's time goes: imports by top-level package, the command's own
work, and the floor (a bare Python process with sqlite3).

Usage: python benchmarks/startup_profile.py [--tasks 1000] [--db FILE] [--runs 3]
                                            [--commands help,count,count-f,ls-q,ls-q-f,...]

Per command: the median wall and CPU (user + system) time of the whole process; which heavy
packages it loads; `python -X importtime` self times summed by top-level package (the
smallest of --runs runs per package); then, in one process, the CPU time to import every
module the command loads, and a cProfile of the command itself with those modules already
imported (its own work: parsing, SQL, output), by area and by function.
CPU times are the steadier figures on a loaded machine. Run with the project's virtualenv;
the database is built with benchmarks/seed.py unless --db is given.
"""

from __future__ import annotations

import argparse
import collections
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
PY = sys.executable
FILTER = "args.lr > 0.001"
COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "count": ["count"],
    "count-f": ["count", "-f", FILTER],
    "ls-q": ["ls", "-q"],
    "ls-q-f": ["ls", "-q", "-f", FILTER],
    "submit": ["submit", "-q", "--", "--foo.bar", "0.1"],
    "update-f": ["update", "-f", FILTER, "-u", "priority=7", "-y", "-q"],
    "ls": ["ls", "--limit", "100"],
    "export": ["export"],
}
FLOOR: dict[str, str] = {
    "python -c pass": "pass",
    "import sqlite3": "import sqlite3",
    "count (sqlite3)": "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);print(c.execute("
                       "\"SELECT status,count(*) FROM tasks WHERE queue='default' GROUP BY "
                       "status\").fetchall())",
    "count -f (sqlite3)": "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);print(c.execute("
                          "\"SELECT status,count(*) FROM tasks WHERE queue='default' AND "
                          "json_extract(args,'$.lr')>0.001 GROUP BY status\").fetchall())",
    "ls -q (sqlite3)": "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);sys.stdout.write("
                       "''.join(i+'\\n' for (i,) in c.execute(\"SELECT task_id FROM tasks "
                       "WHERE queue='default' ORDER BY priority DESC,last_modified,created_at,"
                       "task_id\")))",
}
STDLIB = set(sys.stdlib_module_names)
HEAVY = {"sqlalchemy", "pydantic", "pydantic_core", "asyncio", "aiosqlite", "greenlet", "regex",
         "yaml", "dateparser", "textual", "rich", "psycopg", "click", "platformdirs", "ssl"}
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def wall(argv: list[str], runs: int) -> tuple[float, float]:
    """Median wall and median CPU (user + system) seconds of a whole process; CPU time is the
    steadier figure on a loaded machine."""
    walls, cpus = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def package_of(module: str) -> str:
    top = module.split(".")[0]
    if top == "labtasker_tui":
        return ".".join(module.split(".")[:2])
    return f"{top} (stdlib)" if top in STDLIB else top


def import_breakdown(argv: list[str], runs: int) -> tuple[float, dict[str, float]]:
    """Import seconds by top-level package (-X importtime self times summed per package; the
    smallest of RUNS runs per package, since load only ever adds time)."""
    best: dict[str, float] = {}
    for _ in range(runs):
        proc = subprocess.run([PY, "-X", "importtime", *argv], capture_output=True, text=True,
                              check=True)
        by_pkg: dict[str, float] = collections.Counter()
        for line in proc.stderr.splitlines():
            m = IMPORT_LINE.match(line)
            if m:
                by_pkg[package_of(m.group(4))] += int(m.group(1)) / 1e6
        for pkg, sec in by_pkg.items():
            best[pkg] = min(sec, best.get(pkg, sec))
    return sum(best.values()), best


def area_of(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if "labtasker_tui/" in filename:
        return "labtasker_tui." + filename.split("labtasker_tui/")[1].split("/")[0].removesuffix(
            ".py")
    if filename.startswith("<frozen importlib") or filename == "~":
        return filename
    return "stdlib " + Path(filename).stem


RECORD = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "labtasker-tui"
from labtasker_tui.cli.entry import main  # the program's entry (fast path, else click)
main()
"""
PROFILE = """
import cProfile, importlib, json, sys, time
mods, out = sys.argv.pop(1), sys.argv.pop(1)
t0 = time.process_time()
for name in json.load(open(mods)):
    try:
        importlib.import_module(name)
    except Exception:
        pass
t1 = time.process_time()
sys.argv[0] = "labtasker-tui"
from labtasker_tui.cli.entry import main  # the program's entry (fast path, else click)
prof = cProfile.Profile()
prof.enable()
try:
    main()
except SystemExit:
    pass
prof.disable()
t2 = time.process_time()
prof.dump_stats(out)
print(json.dumps([t1 - t0, t2 - t1]), file=sys.stderr)
"""


Ranked = list[tuple[str, float]]


def profile_breakdown(argv: list[str], tmp: Path) -> tuple[float, float, Ranked, Ranked, Ranked,
                                                          str]:
    """In one process: import every module the command loads (timed), then run the command
    under cProfile. Returns import seconds, work seconds, work tottime by area, top functions.
    """
    mods, out = tmp / "mods.json", tmp / "prof.out"
    subprocess.run([PY, "-c", RECORD, str(mods), *argv], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    proc = subprocess.run([PY, "-c", PROFILE, str(mods), str(out), *argv],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    import json

    t_import, t_work = json.loads(proc.stderr.strip().splitlines()[-1])
    loaded = json.loads(mods.read_text())
    heavy = sorted({m.split(".")[0] for m in loaded} & HEAVY)
    raw = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    areas: dict[str, float] = collections.Counter()
    funcs = []
    for (filename, _line, name), (_cc, _nc, tt, ct, _callers) in raw.items():
        areas[area_of(filename)] += tt
        funcs.append((f"{area_of(filename)}:{name}", ct))
    funcs.sort(key=lambda f: -f[1])
    tot = sorted(((f"{area_of(fn)}:{name}", tt) for (fn, _l, name), (_c, _n, tt, _ct, _cl)
                  in raw.items()), key=lambda f: -f[1])
    return (t_import, t_work, sorted(areas.items(), key=lambda a: -a[1]), funcs, tot,
            f"{len(loaded)} modules; heavy: {', '.join(heavy) or 'none'}")


def main() -> None:
    from bench_env import compiled_like_an_install

    compiled_like_an_install()
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--db")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--commands", default=",".join(COMMANDS))
    ap.add_argument("--top", type=int, default=12)
    opts = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ltprof."))
    try:
        db = Path(opts.db) if opts.db else tmp / "t.db"
        if not opts.db:
            from seed import build

            build(db, opts.tasks)
        print(f"## {opts.tasks if not opts.db else db} tasks, medians of {opts.runs}\n")
        print("### the floor\n")
        for label, code in FLOOR.items():
            w, cpu = wall([PY, "-c", code, str(db)], opts.runs)
            print(f"- {label}: {w * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU")
        for key in opts.commands.split(","):
            argv = ["--db", str(db), *COMMANDS[key]]
            w, cpu = wall([PY, "-m", "labtasker_tui", *argv], opts.runs)
            imp_total, by_pkg = import_breakdown(["-m", "labtasker_tui", *argv], opts.runs)
            t_import, t_work, areas, funcs, tot, mods = profile_breakdown(argv, tmp)
            print(f"\n### `{' '.join(COMMANDS[key])}`: {w * 1000:.0f} ms wall, "
                  f"{cpu * 1000:.0f} ms CPU\n")
            print(mods)
            print(f"imports (-X importtime, self times, min of {opts.runs} per package): "
                  f"{imp_total * 1000:.0f} ms")
            for pkg, sec in sorted(by_pkg.items(), key=lambda p: -p[1])[:opts.top]:
                print(f"  {sec * 1000:7.1f} ms  {pkg}")
            print(f"one process: importing the {key} path's modules {t_import * 1000:.0f} ms CPU, "
                  f"then the command {t_work * 1000:.0f} ms CPU (under cProfile); its tottime by "
                  "area:")
            for area, sec in areas[:8]:
                print(f"  {sec * 1000:7.1f} ms  {area}")
            print("  top functions of the command (cumtime):")
            for name, sec in funcs[:8]:
                print(f"  {sec * 1000:7.1f} ms  {name}")
            print("  top functions of the command (tottime):")
            for name, sec in tot[:8]:
                print(f"  {sec * 1000:7.1f} ms  {name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
