"""labtasker-tui beside Labtasker v2 (PyPI `labtasker==2.8.0`), whole process, side by side.

Usage:
  python benchmarks/peer_bench.py [--sizes 1000,10000,100000] [--repeats 5]
                                  [--keep-venv DIR] [--pg URL] [--rows count,ls-q,...]
                                  [--delete-ids 20] [--v2-seed auto|api|sql] [--cpu]

What it does, per size:
  1. a virtualenv with labtasker==2.8.0 from the package index (pip as configured on this
     machine; `--keep-venv DIR` reuses or creates it there, so installs happen once);
  2. v2's server on 127.0.0.1 only (`labtasker-server serve --connection http`, its SQLite
     backend, a bearer token), started with a fresh database in a temporary folder and
     stopped by PID at the end (also on Ctrl-C, which still prints the complete repeats of the
     size it interrupted); the client is configured by environment
     (LABTASKER_URL, LABTASKER_TOKEN, LABTASKER_QUEUE, LABTASKER_ROOT), non-interactive;
  3. the same tasks (same args, metadata and names, all pending) into both tools: ours with
     `labtasker-tui --db FILE submit --file`, v2 through its Python client in one process
     (`--v2-seed api`, ~6 ms a task) or, above 20,000 tasks by default (`sql`), rows written
     straight into v2's SQLite file exactly as its TaskService.create writes them (same
     canonical JSON and creation hash), because 100,000 HTTP submits take ~10 minutes;
  4. each command timed as a whole process (v2, ours, the sqlite3 floor), interleaved run by
     run (the order of v2 and ours alternates), after one untimed warm-up of each tool.

The floor is a bare `python -c` running the equivalent query through the standard sqlite3
module on our file. Output: one Markdown table per size with medians, the median of the
per-pair v2/ours ratios and ours/floor; `--pg URL` adds our PostgreSQL median; `--cpu` adds
the same table in CPU seconds (user + system of the client processes, v2's server excluded),
which a busy machine disturbs far less than wall time.

v2 has no `ls -q`, no bulk delete by id and no export: its closest CLI equivalents are paging
`labtasker task list --limit 1000 --cursor C` until next_cursor is null (one process per page;
the time is the sum of those processes) and one `labtasker task delete ID` per id. The table
names the v2 command of each row.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

V2_SPEC = "labtasker==2.8.0"
V2_VERSION = "2.8.0"
TOKEN = "peer-bench-token"
V2_QUEUE = "bench"
FILTER = "args.x > 0.5"
PAGE = 1000  # v2's largest page
MODELS = ["resnet", "vit", "mlp", "bert", "gpt"]
GROUPS = ["paper", "sweep", "ablation"]


class BenchError(Exception):
    """A setup step failed; the message says which and why."""


# --------------------------------------------------------------------------- the tasks

def task_specs(n: int, seed: int = 12) -> list[dict]:
    """The same N tasks for both tools: name, args (x uniform in [0, 1)), metadata."""
    rng = random.Random(seed)
    return [
        {
            "name": f"run-{i}",
            "args": {"x": round(rng.random(), 6), "lr": round(10 ** rng.uniform(-5, -1), 8),
                     "model": rng.choice(MODELS), "seed": i,
                     "opt": {"name": rng.choice(["sgd", "adam"])}},
            "metadata": {"group": rng.choice(GROUPS)},
        }
        for i in range(n)
    ]


# --------------------------------------------------------------------------- v2: install

def ensure_v2_venv(root: Path, python: str) -> Path:
    """A virtualenv at ROOT holding labtasker==2.8.0 (reused when already there)."""
    cli = root / "bin" / "labtasker"
    if cli.exists():
        out = subprocess.run([str(root / "bin" / "python"), "-c",
                              "import labtasker; print(labtasker.__version__)"],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() == V2_VERSION:
            return root
        print(f"[peer] {root} holds no usable labtasker {V2_VERSION}; reinstalling",
              file=sys.stderr)
    print(f"[peer] installing {V2_SPEC} into {root} ...", file=sys.stderr)
    steps = [[python, "-m", "venv", str(root)],
             [str(root / "bin" / "python"), "-m", "pip", "install", "-q", V2_SPEC]]
    for argv in steps:
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise BenchError(
                f"could not install {V2_SPEC}: `{' '.join(argv)}` exited {proc.returncode}.\n"
                f"{tail}\nCheck that pip reaches the package index (pip config list; "
                "PIP_INDEX_URL), or pass --keep-venv DIR pointing at a virtualenv that "
                f"already holds {V2_SPEC}.")
    if not cli.exists():
        raise BenchError(f"{V2_SPEC} installed but {cli} is missing")
    return root


# --------------------------------------------------------------------------- v2: server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class V2Server:
    """v2's server on 127.0.0.1 with its SQLite file; stop() ends it by PID."""

    venv: Path
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def database(self) -> Path:
        return self.workdir / "v2.db"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABTASKER_")}
        env.update(LABTASKER_URL=self.url, LABTASKER_TOKEN=TOKEN, LABTASKER_QUEUE=V2_QUEUE,
                   LABTASKER_ROOT=str(self.workdir / "client-root"))
        return env

    def start(self) -> None:
        (self.workdir / "client-root").mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABTASKER_")}
        env["LABTASKER_SERVER_TOKEN"] = TOKEN
        log = open(self.workdir / "server.log", "wb")  # noqa: SIM115 (lives with the server)
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "labtasker-server"), "serve", "--connection", "http",
             "--host", "127.0.0.1", "--port", str(self.port),
             "--database", str(self.database)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.workdir, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("v2 server exited at start:\n"
                                 + (self.workdir / "server.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError("v2 server did not answer /health within 60 s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


SEED_API = r"""
import json, sys, threading
from concurrent.futures import ThreadPoolExecutor
from labtasker import Client
specs = [json.loads(line) for line in open(sys.argv[1])]
local = threading.local()
def submit(spec):
    client = getattr(local, "client", None)
    if client is None:
        client = local.client = Client()
    client.submit_task(spec["args"], name=spec["name"], metadata=spec["metadata"])
with ThreadPoolExecutor(4) as pool:
    list(pool.map(submit, specs))
"""

# Rows as labtasker_server.services.tasks.TaskService.create writes them, in one transaction.
SEED_SQL = r"""
import hashlib, json, random, sqlite3, sys, time
from labtasker_server.schemas import TaskCreate
from labtasker_server.services.tasks import canonical_json
specs = [json.loads(line) for line in open(sys.argv[1])]
db, queue = sys.argv[2], sys.argv[3]
rng = random.Random(5)
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
now = int(time.time() * 1_000_000)
tasks, routes = [], []
for i, spec in enumerate(specs):
    request = TaskCreate(name=spec["name"], args=spec["args"], metadata=spec["metadata"])
    normalized = request.model_dump(mode="json")
    normalized["routes"] = sorted(request.routes)
    normalized.pop("dependencies")
    digest = hashlib.sha256(canonical_json(normalized).encode()).hexdigest()
    task_id = "t_" + "".join(rng.choice(alphabet) for _ in range(12))
    at = now + i
    tasks.append((queue, task_id, "pending", request.name, canonical_json(request.args),
                  canonical_json(request.metadata), "{}", "[]", request.priority, 0,
                  request.max_attempts, at, at, digest, at))
    routes.extend((queue, task_id, route) for route in request.routes)
con = sqlite3.connect(db, timeout=60)
con.execute("PRAGMA foreign_keys=ON")
with con:
    con.executemany(
        "INSERT INTO tasks (queue_name, task_id, status, name, args_json, metadata_json, "
        "result_json, dependencies_json, priority, attempt, max_attempts, created_at_us, "
        "updated_at_us, creation_hash, pending_at_us) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        tasks)
    con.executemany("INSERT INTO task_routes (queue_name, task_id, route) VALUES (?,?,?)",
                    routes)
con.execute("ANALYZE")
con.close()
"""


# --------------------------------------------------------------------------- timing

CPU_SPENT = [0.0]  # user + system seconds of the processes run_timed ran (reset per sample)


def run_timed(argv: list[str], env: dict[str, str] | None = None,
              capture: bool = False) -> tuple[float, str]:
    """Wall seconds of one whole process (stdout discarded unless captured); its CPU seconds
    are added to CPU_SPENT."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SPENT[0] += r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    if proc.returncode != 0:
        said = " ".join(((proc.stdout or "") + " " + proc.stderr).split())
        raise BenchError(f"`{' '.join(argv)[:300]}` exited {proc.returncode}: {said[-1500:]}")
    return wall, proc.stdout if capture else ""


@dataclass
class Row:
    """One command: how each tool runs it (each runner returns wall seconds)."""

    name: str
    v2_label: str
    v2: Callable[[int], float]
    ours: Callable[[int], float]
    floor: Callable[[int], float]
    pg: Callable[[int], float] | None = None


@dataclass
class Result:
    """Wall seconds per run of each tool, and (``cpu``) their CPU seconds."""

    row: Row
    v2: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    pg: list[float] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))

    failures: dict[str, str] = field(default_factory=dict)

    def sample(self, tool: str, runner: Callable[[int], float], r: int) -> None:
        """One run; a failing v2 command (its client times out after 15 s, say) is recorded
        as a failure (NaN) instead of ending the benchmark."""
        CPU_SPENT[0] = 0.0
        try:
            wall = runner(r)
        except BenchError as err:
            if tool != "v2":
                raise
            self.failures[tool] = str(err)[-300:]
            print(f"[peer] v2 failed: {err}", file=sys.stderr)
            wall = math.nan
        getattr(self, tool).append(wall)
        self.cpu[tool].append(CPU_SPENT[0] if not math.isnan(wall) else math.nan)

    def as_cpu(self) -> Result:
        out = Result(self.row, *(self.cpu[t] for t in ("v2", "ours", "floor", "pg")))
        out.failures = self.failures
        return out


# --------------------------------------------------------------------------- the floor

FLOOR_PRELUDE = "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);"
ORDER = "ORDER BY priority DESC, last_modified, created_at, task_id"
WHERE_F = "queue='default' AND json_extract(args,'$.x') > 0.5"
FLOOR = {
    "--help": "print('usage: floor [OPTIONS] COMMAND')",
    "submit": FLOOR_PRELUDE + (
        "import json,uuid,datetime;t=datetime.datetime.now(datetime.UTC).strftime("
        "'%Y-%m-%d %H:%M:%S.%f');i=str(uuid.uuid4());"
        "c.execute(\"INSERT INTO tasks (task_id,queue,status,task_name,created_at,"
        "last_modified,heartbeat_timeout,max_retries,retries,priority,metadata,args,cmd,"
        "summary,version) VALUES (?,'default','pending','extra',?,?,60.0,3,0,10,'{}',?,"
        "'\\\"\\\"','{}',1)\",(i,t,t,json.dumps({'x':0.25,'model':'vit'})));c.commit();print(i)"),
    "count": FLOOR_PRELUDE + (
        "r=c.execute(\"SELECT status,count(*) FROM tasks WHERE queue='default' GROUP BY "
        "status\").fetchall();print(r, sum(n for _,n in r))"),
    "count -f": FLOOR_PRELUDE + (
        f"r=c.execute(\"SELECT status,count(*) FROM tasks WHERE {WHERE_F} GROUP BY "
        "status\").fetchall();print(r, sum(n for _,n in r))"),
    "ls -q": FLOOR_PRELUDE + (
        f"sys.stdout.write(''.join(i+'\\n' for (i,) in c.execute(\"SELECT task_id FROM "
        f"tasks WHERE queue='default' {ORDER}\")))"),
    "ls -q -f": FLOOR_PRELUDE + (
        f"sys.stdout.write(''.join(i+'\\n' for (i,) in c.execute(\"SELECT task_id FROM "
        f"tasks WHERE {WHERE_F} {ORDER}\")))"),
    "ls table": FLOOR_PRELUDE + (
        "import json;w=sys.stdout.write\n"
        "for i,n,s,p,a,t in c.execute(\"SELECT task_id,task_name,status,priority,args,"
        f"created_at FROM tasks WHERE queue='default' {ORDER} LIMIT 100\"):\n"
        " a=json.loads(a);w(f\"{i[:8]}  {n:<10} {s:<8} {p:<4} "
        "{' '.join(f'{k}={v}' for k,v in a.items())[:40]:<40} {t[:19]}\\n\")"),
    "ls table (all)": FLOOR_PRELUDE + (
        "import json;w=sys.stdout.write\n"
        "for i,n,s,p,a,t in c.execute(\"SELECT task_id,task_name,status,priority,args,"
        f"created_at FROM tasks WHERE queue='default' {ORDER}\"):\n"
        " a=json.loads(a);w(f\"{i[:8]}  {n:<10} {s:<8} {p:<4} "
        "{' '.join(f'{k}={v}' for k,v in a.items())[:40]:<40} {t[:19]}\\n\")"),
    "update -f": FLOOR_PRELUDE + (
        "import datetime;t=datetime.datetime.now(datetime.UTC).strftime("
        "'%Y-%m-%d %H:%M:%S.%f');n=c.execute(\"UPDATE tasks SET priority=?,last_modified=?,"
        f"version=version+1 WHERE {WHERE_F}\",(int(sys.argv[2]),t)).rowcount;c.commit();"
        "print(n)"),
    "delete ids": FLOOR_PRELUDE + (
        "ids=sys.argv[2:];n=c.execute('DELETE FROM tasks WHERE task_id IN (%s)'%"
        "','.join('?'*len(ids)),ids).rowcount;c.commit();print(n)"),
    "export": FLOOR_PRELUDE + (
        "import json;c.row_factory=sqlite3.Row;w=sys.stdout.write;J=('metadata','args',"
        "'cmd','summary')\n"
        "for r in c.execute(\"SELECT * FROM tasks WHERE queue='default' ORDER BY "
        "created_at, task_id\"):\n"
        " d=dict(r)\n for k in J: d[k]=json.loads(d[k])\n w(json.dumps(d)+'\\n')"),
}


# --------------------------------------------------------------------------- one size

class SizeBench:
    """Seeds both tools at N tasks and builds the rows."""

    def __init__(self, n: int, work: Path, venv: Path, ours: list[str], pg: str | None,
                 delete_ids: int, repeats: int, v2_seed: str) -> None:
        self.n, self.work, self.venv, self.ours_cmd = n, work, venv, ours
        self.delete_ids, self.repeats, self.v2_seed = delete_ids, repeats, v2_seed
        self.pg = pg
        self.db = work / "ours.db"
        self.server = V2Server(venv, work / "v2")
        self.v2_ids: list[str] = []
        self.our_ids: list[str] = []
        self.pg_ids: list[str] = []
        self.pg_queue = f"peerbench{os.getpid()}n{n}"
        self.results: list[Result] = []
        self.done = 0  # complete repeats

    # -- tools
    def v2(self, *args: str) -> list[str]:
        return [str(self.venv / "bin" / "labtasker"), *args]

    def ours(self, *args: str, pg: bool = False) -> list[str]:
        if pg:
            return [*self.ours_cmd, "--db", self.pg, "--queue", self.pg_queue, *args]
        return [*self.ours_cmd, "--db", str(self.db), *args]

    def floor(self, key: str, *extra: str) -> list[str]:
        return [sys.executable, "-c", FLOOR[key], str(self.db), *extra]

    def v2_pages(self, *args: str) -> tuple[float, list[dict]]:
        """Every page of `task list --limit 1000`: summed process seconds and the items."""
        env = self.server.client_env()
        total, items, cursor = 0.0, [], None
        while True:
            argv = self.v2("task", "list", "--limit", str(PAGE), *args)
            if cursor:
                argv += ["--cursor", cursor]
            wall, out = run_timed(argv, env, capture=True)
            total += wall
            page = json.loads(out)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return total, items

    # -- seeding
    def seed(self) -> None:
        specs = task_specs(self.n)
        spec_file = self.work / "specs.jsonl"
        with open(spec_file, "w") as fh:
            for s in specs:
                fh.write(json.dumps(s) + "\n")
        ours_file = self.work / "ours-specs.jsonl"
        with open(ours_file, "w") as fh:
            for s in specs:
                fh.write(json.dumps({"task_name": s["name"], "args": s["args"],
                                     "metadata": s["metadata"]}) + "\n")
        t0 = time.perf_counter()
        run_timed(self.ours("submit", "--file", str(ours_file), "-q"))
        print(f"[peer] {self.n:,} tasks: ours seeded in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        if self.pg:
            t0 = time.perf_counter()
            run_timed(self.ours("submit", "--file", str(ours_file), "-q", pg=True))
            print(f"[peer] ours (PostgreSQL, queue {self.pg_queue}) seeded in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        self.server.start()
        env = self.server.client_env()
        run_timed(self.v2("queue", "create", V2_QUEUE), env)
        mode = self.v2_seed if self.v2_seed != "auto" else ("api" if self.n <= 20_000 else "sql")
        t0 = time.perf_counter()
        if mode == "api":
            run_timed([str(self.venv / "bin" / "python"), "-c", SEED_API, str(spec_file)], env)
        else:
            run_timed([str(self.venv / "bin" / "python"), "-c", SEED_SQL, str(spec_file),
                       str(self.server.database), V2_QUEUE], env)
        _, out = run_timed(self.v2("task", "count"), env, capture=True)
        if json.loads(out)["count"] != self.n:
            raise BenchError(f"v2 holds {out.strip()} tasks after seeding, not {self.n}")
        print(f"[peer] v2 seeded ({mode}) in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        _, out = run_timed(self.ours("ls", "-q"), capture=True)
        self.our_ids = out.split()
        _, items = self.v2_pages("--order-by", "id", "--ascending")
        self.v2_ids = sorted(item["id"] for item in items)
        if self.pg:
            _, out = run_timed(self.ours("ls", "-q", pg=True), capture=True)
            self.pg_ids = out.split()

    def cleanup_pg(self) -> None:
        if self.pg and self.pg_ids:
            subprocess.run(self.ours("delete", "--force", "-q", "-s", "pending", pg=True),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # -- rows
    def rows(self) -> list[Row]:
        env = self.server.client_env()
        k = self.delete_ids

        def v2(*args: str) -> Callable[[int], float]:  # output kept: v2 reports errors on it
            return lambda r: run_timed(self.v2(*args), env, capture=True)[0]

        def ours(*args: str) -> Callable[[int], float]:
            return lambda r: run_timed(self.ours(*args))[0]

        def pg(*args: str) -> Callable[[int], float]:
            return lambda r: run_timed(self.ours(*args, pg=True))[0]

        def floor(key: str) -> Callable[[int], float]:
            return lambda r: run_timed(self.floor(key))[0]

        def pages(*args: str) -> Callable[[int], float]:
            return lambda r: self.v2_pages(*args)[0]

        def chunk(ids: list[str], r: int, which: int) -> list[str]:
            start = (2 * r + which) * k  # ours/v2 take chunk 2r, the floor chunk 2r+1
            return ids[start:start + k]

        def v2_delete(r: int) -> float:
            return sum(run_timed(self.v2("task", "delete", i), env, capture=True)[0]
                       for i in chunk(self.v2_ids, r, 0))

        submit_args = json.dumps({"x": 0.25, "model": "vit"})
        rows = [
            Row("--help", "labtasker --help", v2("--help"), ours("--help"), floor("--help"),
                pg("--help")),
            Row("submit one task", "task submit --args JSON --name extra",
                v2("task", "submit", "--args", submit_args, "--name", "extra"),
                ours("submit", "-q", "--args", submit_args, "--name", "extra"),
                floor("submit"), pg("submit", "-q", "--args", submit_args, "--name", "extra")),
            Row("count", "task count", v2("task", "count"), ours("count"), floor("count"),
                pg("count")),
            Row(f"count -f '{FILTER}'", "task count --filter F",
                v2("task", "count", "--filter", FILTER), ours("count", "-f", FILTER),
                floor("count -f"), pg("count", "-f", FILTER)),
            Row("ls -q (every id)", f"task list --limit {PAGE} (all pages)", pages(),
                ours("ls", "-q"), floor("ls -q"), pg("ls", "-q")),
            Row(f"ls -q -f '{FILTER}'", f"task list --limit {PAGE} --filter F (all pages)",
                pages("--filter", FILTER), ours("ls", "-q", "-f", FILTER), floor("ls -q -f"),
                pg("ls", "-q", "-f", FILTER)),
            Row("ls table (first 100)", "task list (one page of 100)", v2("task", "list"),
                ours("ls", "--no-pager", "--limit", "100"), floor("ls table"),
                pg("ls", "--no-pager", "--limit", "100")),
            Row("ls table (all)", f"task list --limit {PAGE} (all pages)", pages(),
                ours("ls", "--no-pager"), floor("ls table (all)"), pg("ls", "--no-pager")),
            Row(f"update -f '{FILTER}' priority", "task update --filter F --changes JSON",
                lambda r: run_timed(self.v2("task", "update", "--filter", FILTER, "--changes",
                                            json.dumps({"priority": 5 + r % 2})), env,
                                    capture=True)[0],
                lambda r: run_timed(self.ours("update", "-f", FILTER, "-u",
                                              f"priority={5 + r % 2}", "-y", "-q"))[0],
                lambda r: run_timed(self.floor("update -f", str(5 + r % 2)))[0],
                lambda r: run_timed(self.ours("update", "-f", FILTER, "-u",
                                              f"priority={5 + r % 2}", "-y", "-q",
                                              pg=True))[0]),
            Row(f"delete {k} ids", f"task delete ID (x{k} processes)", v2_delete,
                lambda r: run_timed(self.ours("delete", "-y", "-q",
                                              *chunk(self.our_ids, r, 0)))[0],
                lambda r: run_timed(self.floor("delete ids", *chunk(self.our_ids, r, 1)))[0],
                lambda r: run_timed(self.ours("delete", "-y", "-q",
                                              *chunk(self.pg_ids, r, 0), pg=True))[0]),
            Row("export (every record)", f"task list --limit {PAGE} (all pages, full JSON)",
                pages(), ours("export"), floor("export"), pg("export")),
        ]
        if not self.pg:
            for row in rows:
                row.pg = None
        return rows

    def run(self, wanted: set[str] | None) -> list[Result]:
        rows = [r for r in self.rows() if wanted is None or _key(r.name) in wanted]
        need = self.delete_ids * 2 * (self.repeats + 1)
        if any(_key(r.name) == "delete" for r in rows) and len(self.our_ids) < need:
            raise BenchError(f"--delete-ids {self.delete_ids} with --repeats {self.repeats} "
                             f"needs {need} tasks; have {len(self.our_ids)}")
        env = self.server.client_env()
        for argv, e in ((self.v2("task", "count"), env), (self.ours("count"), None)):
            run_timed(argv, e)  # warm-up: page cache, .pyc files, the server's first query
        results = self.results = [Result(row) for row in rows]
        for r in range(self.repeats):
            for res in results:
                # chunk r+1 for deletes: chunk 0 stays untouched by the warm-up
                order = ("v2", "ours") if r % 2 == 0 else ("ours", "v2")
                for tool in order:
                    res.sample(tool, getattr(res.row, tool), r + 1)
                res.sample("floor", res.row.floor, r + 1)
                if res.row.pg is not None:
                    res.sample("pg", res.row.pg, r + 1)
            self.done = r + 1
            print(f"[peer] {self.n:,} tasks: repeat {r + 1}/{self.repeats} done",
                  file=sys.stderr)
        return results

    def partial(self) -> list[Result]:
        """The complete repeats so far (after an interruption)."""
        k = self.done
        out = []
        for res in self.results:
            part = Result(res.row, res.v2[:k], res.ours[:k], res.floor[:k], res.pg[:k])
            for tool, values in res.cpu.items():
                part.cpu[tool] = values[:k]
            out.append(part)
        return out if k else []


def _key(name: str) -> str:
    """Row selector for --rows: the first word of the row name (count, ls, update, ...)."""
    return {"--help": "help", "submit one task": "submit", "count": "count",
            "ls -q (every id)": "ls-q", "ls table (first 100)": "ls",
            "ls table (all)": "ls-all", "export (every record)": "export"}.get(
        name, "count-f" if name.startswith("count -f") else
        "ls-q-f" if name.startswith("ls -q -f") else
        "update" if name.startswith("update") else "delete")


ROW_KEYS = ("help", "submit", "count", "count-f", "ls-q", "ls-q-f", "ls", "ls-all", "update",
            "delete", "export")


def table(n: int, results: list[Result], pg: bool, what: str = "seconds, whole process") -> str:
    med = statistics.median
    head = ["command", "v2 command (labtasker ...)", "v2", "ours", "floor", "v2 / ours",
            "ours / floor"]
    if pg:
        head.insert(5, "ours PG")
    lines = [f"### {n:,} tasks (medians of {len(results[0].ours)}, {what})",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        pairs = [a / b for a, b in zip(res.v2, res.ours, strict=True) if not math.isnan(a)]
        v2_ok = [v for v in res.v2 if not math.isnan(v)]
        fails = len(res.v2) - len(v2_ok)
        v2_cell = f"{med(v2_ok):.3f}" if v2_ok else "fails"
        if fails and v2_ok:
            v2_cell += f" ({fails} of {len(res.v2)} runs failed)"
        cells = [f"`{res.row.name}`", f"`{res.row.v2_label}`", v2_cell,
                 f"{med(res.ours):.3f}", f"{med(res.floor):.3f}",
                 f"{med(pairs):.2f}x" if pairs else "v2 fails",
                 f"{med(res.ours) / med(res.floor):.1f}x"]
        if pg:
            cells.insert(5, f"{med(res.pg):.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- v2 `{r.row.name}` failed: {r.failures['v2']}" for r in results
             if "v2" in r.failures]
    return "\n".join(lines + ([""] + notes if notes else []))


def main(argv: list[str] | None = None) -> int:
    from bench_env import compiled_like_an_install

    compiled_like_an_install()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000",
                    help="comma-separated task counts (default 1000,10000,100000)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per command (median)")
    ap.add_argument("--keep-venv", metavar="DIR", type=Path,
                    help="reuse (or create) the labtasker==2.8.0 virtualenv at DIR")
    ap.add_argument("--pg", metavar="URL", help="also time ours on this PostgreSQL database")
    ap.add_argument("--rows", help=f"only these rows, comma-separated: {','.join(ROW_KEYS)}")
    ap.add_argument("--delete-ids", type=int, default=20,
                    help="ids per delete run (v2 runs one process per id; default 20)")
    ap.add_argument("--v2-seed", choices=("auto", "api", "sql"), default="auto",
                    help="seed v2 by its client (api) or straight into its SQLite file (sql); "
                         "auto: api up to 20,000 tasks")
    ap.add_argument("--cpu", action="store_true",
                    help="also print CPU-time tables (steadier than wall time on a busy machine)")
    ap.add_argument("--ours", default=None,
                    help="our command (default: labtasker-tui beside this Python)")
    ap.add_argument("--python", default=sys.executable,
                    help="Python that creates v2's virtualenv")
    opts = ap.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in opts.sizes.split(",") if s]
    wanted = set(opts.rows.split(",")) if opts.rows else None
    if wanted and wanted - set(ROW_KEYS):
        ap.error(f"unknown rows {sorted(wanted - set(ROW_KEYS))}; choose from {ROW_KEYS}")
    ours = opts.ours.split() if opts.ours else [str(Path(sys.executable).parent
                                                    / "labtasker-tui")]
    if not Path(ours[0]).exists() and not shutil.which(ours[0]):
        ap.error(f"our command {ours[0]} not found; pass --ours")

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    tmp = Path(tempfile.mkdtemp(prefix="peer-bench."))
    bench: SizeBench | None = None
    try:
        venv = ensure_v2_venv((opts.keep_venv or tmp / "v2-venv").resolve(), opts.python)
        print(f"# labtasker-tui vs Labtasker v2 {V2_VERSION} (SQLite server on 127.0.0.1)\n")
        for n in sizes:
            work = tmp / f"n{n}"
            work.mkdir()
            bench = SizeBench(n, work, venv, ours, opts.pg, opts.delete_ids, opts.repeats,
                              opts.v2_seed)
            try:
                bench.seed()
                results = bench.run(wanted)
            finally:
                bench.server.stop()
                bench.cleanup_pg()
            print(table(n, results, bool(opts.pg)), end="\n\n", flush=True)
            if opts.cpu:
                print(table(n, [r.as_cpu() for r in results], bool(opts.pg),
                            "CPU seconds: user + system of the client processes; v2's server "
                            "not included"), end="\n\n", flush=True)
        return 0
    except BenchError as err:
        print(f"peer_bench: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("peer_bench: interrupted", file=sys.stderr)
        partial = bench.partial() if bench is not None else []
        if partial:  # what was measured before the interruption
            print(table(bench.n, partial, bool(opts.pg),
                        "seconds, whole process; INTERRUPTED"), end="\n\n", flush=True)
            if opts.cpu:
                print(table(bench.n, [r.as_cpu() for r in partial], bool(opts.pg),
                            "CPU seconds; INTERRUPTED"), end="\n\n", flush=True)
        return 130
    finally:
        if bench is not None:
            bench.server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
