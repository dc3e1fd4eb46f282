"""Build a benchmark database of N synthetic tasks quickly (raw sqlite3 executemany).

Usage: python benchmarks/seed.py PATH N
The schema comes from the package (TaskStore.ensure_schema); rows are written directly so a
million tasks take seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from labtasker_tui.canonical import args_hash

MODELS = ["resnet", "vit", "mlp", "bert", "gpt"]
TAGS = ["exp", "baseline", "ablation", "v1", "v2", "sweep"]
STATUSES = ["pending"] * 6 + ["running", "success", "success", "failed", "cancelled"]


#: the columns of a :func:`make_row` tuple, in order
COLUMNS = ("task_id, queue, status, task_name, created_at, start_time, last_heartbeat, "
           "last_modified, heartbeat_timeout, task_timeout, max_retries, retries, priority, "
           "metadata, args, cmd, summary, worker_id, version, args_hash")


def copy_into_pg(pg: Any, n: int, seed: int = 7, queue: str = "default") -> float:
    """The same ``n`` tasks as :func:`build` (in ``queue``), into PostgreSQL by COPY (``pg``:
    a psycopg connection in autocommit), then ANALYZE; returns the seconds it took."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    t_0 = datetime(2026, 1, 1, tzinfo=UTC)
    with pg.cursor() as cur, cur.copy(f"COPY tasks ({COLUMNS}) FROM STDIN") as copy:
        for i in range(n):
            row = make_row(i, rng, t_0)
            copy.write_row(row if queue == "default" else (row[0], queue, *row[2:]))
    pg.execute("ANALYZE tasks")
    return time.perf_counter() - t0


def make_row(i: int, rng: random.Random, t0: datetime) -> tuple:
    created = (t0 + timedelta(milliseconds=i)).replace(tzinfo=None)
    args = {"lr": round(10 ** rng.uniform(-5, -1), 8), "model": rng.choice(MODELS),
            "seed": i, "opt": {"momentum": rng.choice([0.8, 0.9, 0.99]),
                               "name": rng.choice(["sgd", "adam"])}}
    meta = {"tags": rng.sample(TAGS, rng.randint(0, 3)), "owner": rng.choice(["ann", "bob"])}
    status = rng.choice(STATUSES)
    summary = ({"acc": round(rng.random(), 4), "best": {"epoch": rng.randint(1, 90)}}
               if status == "success" else {})
    ts = created.strftime("%Y-%m-%d %H:%M:%S.%f")
    return (str(uuid.UUID(int=rng.getrandbits(128), version=4)), "default", status,
            f"run-{i}", ts, None, None, ts, 60.0, None, 3, 0, rng.choice([0, 10, 10, 20]),
            json.dumps(meta), json.dumps(args), '""', json.dumps(summary), None, 1,
            args_hash(args))


def build(path: Path, n: int, seed: int = 7) -> None:
    from labtasker_tui.store.task_store import open_store

    if path.exists():
        path.unlink()

    async def init() -> None:
        store = open_store(str(path))
        await store.ensure_schema()
        await store.close()

    asyncio.run(init())
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    sql = f"INSERT INTO tasks ({COLUMNS}) VALUES ({','.join('?' * 20)})"
    batch = 50_000
    for start in range(0, n, batch):
        con.executemany(sql, [make_row(i, rng, t0) for i in range(start, min(n, start + batch))])
        con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


if __name__ == "__main__":
    build(Path(sys.argv[1]), int(sys.argv[2]))
