"""Schema migrations: each step takes the schema from version N to N+1 inside one transaction."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import schema
from ..errors import StoreError
from ..schema import JSON_VALID_NAME, JSON_VALID_SQL, schema_info
from ..settings import SCHEMA_VERSION
from .rows import JSON_FIELDS, json_dumps, json_loads

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def repair_json(raw: bytes | str) -> str:
    """Valid JSON for a stored value that is not: non-finite numbers become the strings
    "NaN"/"Infinity"/"-Infinity"; text that is not JSON at all is kept whole as
    ``{"labtasker_malformed": "<raw text>"}`` (bytes that are not UTF-8 are replaced by U+FFFD)."""
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode("utf-8", "replace")
    value = json_loads(raw)
    try:
        return json_dumps(value)
    except (ValueError, RecursionError):
        return json_dumps({"labtasker_malformed": raw})


async def _v1_to_v2(conn: AsyncConnection) -> None:
    """SQLite: rewrite rows whose JSON columns are not valid JSON, then rebuild the table with
    the ``json_valid`` CHECK constraint (SQLite cannot add one in place) so such rows cannot
    come back; every index (including ones made by ``labtasker-tui index``) is recreated.
    PostgreSQL's jsonb never held invalid JSON: nothing to do."""
    if conn.dialect.name != "sqlite":
        return
    for col in sorted(JSON_FIELDS):
        # as a BLOB: text that is not UTF-8 would fail to decode in the driver
        bad: Sequence[Any] = (await conn.exec_driver_sql(
            f"SELECT task_id, CAST({col} AS BLOB) FROM tasks "
            f"WHERE {col} IS NOT NULL AND NOT json_valid({col})")).all()
        if bad:
            await conn.exec_driver_sql(
                f"UPDATE tasks SET {col} = ? WHERE task_id = ?",
                [(repair_json(raw), task_id) for task_id, raw in bad])
    table_sql = (await conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tasks'")).scalar_one()
    if JSON_VALID_NAME in table_sql:
        return
    indexes = [r[0] for r in await conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'"
        " AND sql IS NOT NULL")]
    body = table_sql[table_sql.index("(") + 1: table_sql.rindex(")")]
    await conn.exec_driver_sql(
        f"CREATE TABLE tasks_v2 ({body}, CONSTRAINT {JSON_VALID_NAME} CHECK ({JSON_VALID_SQL}))")
    await conn.exec_driver_sql("INSERT INTO tasks_v2 SELECT * FROM tasks")
    await conn.exec_driver_sql("DROP TABLE tasks")
    await conn.exec_driver_sql("ALTER TABLE tasks_v2 RENAME TO tasks")
    for sql in indexes:
        await conn.exec_driver_sql(sql)


async def _v2_to_v3(conn: AsyncConnection) -> None:
    """The edit journal's two tables (and their indexes), on both backends."""
    from ..schema import journal, journal_tasks, metadata_obj

    await conn.run_sync(lambda c: metadata_obj.create_all(
        c, tables=[journal, journal_tasks], checkfirst=True))


BACKFILL_CHUNK = 5000


async def _v3_to_v4(conn: AsyncConnection) -> None:
    """``tasks.args_hash`` (deduplication's key, :mod:`labtasker_tui.canonical`), its index,
    and the hash of every existing task, computed in batches by task id
    (the hash is Python's: SQL cannot spell the canonical form on both backends); the sweeps
    table (named sweeps and their specs, store/sweeps.py); task_runs (each task's latest run:
    progress reports and finish time, store/progress.py; runs finished before v4 have no row,
    the ETA then has less history)."""
    from ..canonical import args_hash
    from ..schema import ARGS_HASH_INDEX, metadata_obj, sweeps, task_runs

    await conn.run_sync(lambda c: metadata_obj.create_all(c, tables=[sweeps, task_runs],
                                                          checkfirst=True))

    def has_column(sync_conn: Connection) -> bool:
        from sqlalchemy import inspect

        return "args_hash" in {c["name"] for c in inspect(sync_conn).get_columns("tasks")}

    if not await conn.run_sync(has_column):
        await conn.exec_driver_sql("ALTER TABLE tasks ADD COLUMN args_hash BIGINT")
    await conn.run_sync(lambda c: ARGS_HASH_INDEX.create(c, checkfirst=True))
    sql = (f"SELECT task_id, args FROM tasks WHERE task_id > {_param(conn)} "
           f"AND args_hash IS NULL ORDER BY task_id LIMIT {BACKFILL_CHUNK}")
    put = (f"UPDATE tasks SET args_hash = {_param(conn)} "
           f"WHERE task_id = {_param(conn)}")
    last = ""
    while True:
        rows: Sequence[Any] = (await conn.exec_driver_sql(sql, (last,))).all()
        if not rows:
            break
        await conn.exec_driver_sql(put, [
            (args_hash(json_loads(r[1]) if isinstance(r[1], str | bytes) else r[1]), r[0])
            for r in rows])
        last = rows[-1][0]


def _param(conn: AsyncConnection) -> str:
    """The driver's placeholder: ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


# version N -> coroutine that upgrades N to N+1.
STEPS: dict[int, Callable[[AsyncConnection], Awaitable[None]]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


async def migrate(conn: AsyncConnection, from_version: int) -> None:
    if conn.dialect.name == "postgresql":
        # two processes upgrading at once: the second waits here, then finds the tables made
        # (every step is idempotent) instead of failing on a duplicate CREATE TABLE
        await conn.exec_driver_sql("LOCK TABLE schema_info IN SHARE ROW EXCLUSIVE MODE")
    version = from_version
    started = time.monotonic()
    # a one-time step that can take a minute on a large queue (v4 hashes every task's args):
    # say so, on stderr (the app upgrades before its screen starts)
    sys.stderr.write(f"labtasker-tui: upgrading the database schema from v{from_version} to"
                     f" v{SCHEMA_VERSION} (once; about a minute per million tasks)...\n")
    sys.stderr.flush()
    while version < SCHEMA_VERSION:
        step = STEPS.get(version)
        if step is None:
            raise RuntimeError(f"no migration from schema v{version}")
        await step(conn)
        version += 1
    await conn.execute(
        update(schema_info).where(schema_info.c.key == "schema_version").values(value=str(version))
    )
    sys.stderr.write(f"labtasker-tui: schema upgraded in {time.monotonic() - started:.1f} s\n")


async def schema_version(conn: AsyncConnection) -> int | None:
    """The stored schema version; None when there is no schema yet."""

    def probe(sync_conn: Connection) -> int | None:
        from sqlalchemy import inspect

        if not inspect(sync_conn).has_table("schema_info"):
            return None
        value = sync_conn.execute(
            select(schema.schema_info.c.value).where(schema.schema_info.c.key == "schema_version")
        ).scalar()
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise StoreError(f"the database's schema_info.schema_version is {value!r}, not a"
                             " version number: this is not a labtasker-tui database, or it was"
                             " damaged") from None

    return await conn.run_sync(probe)
