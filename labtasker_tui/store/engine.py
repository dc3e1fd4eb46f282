"""Engine creation: SQLite pragmas and explicit BEGIN (IMMEDIATE for writes), PostgreSQL pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from .location import check_database

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

from ..settings import BUSY_TIMEOUT_MS
from .rows import json_dumps, json_loads
from .sqlite_direct import apply_pragmas

# JSON columns: never write NaN/Infinity; floats keep their type on jsonb; a bad stored value
# reads as a marker instead of failing the whole result (see rows.json_dumps/json_loads).
JSON_OPTIONS = {"json_serializer": json_dumps, "json_deserializer": json_loads}


def create_engine(url: str, *, echo: bool = False, create: bool = True) -> AsyncEngine:
    """``create=False``: a SQLite file that does not exist is an error (NoDatabaseError), and
    nothing is created; read commands pass it so that a mistyped --db creates no database."""
    from sqlalchemy.ext.asyncio import create_async_engine

    if url.startswith("sqlite"):
        check_database(url, create=create)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **JSON_OPTIONS
        )
        _install_sqlite_hooks(engine)
        return engine
    # PostgreSQL: workers on many nodes hold few, short transactions. pre_ping survives server
    # restarts; connect_timeout turns an unreachable server into a prompt error.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=5,
        max_overflow=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        **JSON_OPTIONS,
        # lock_timeout mirrors SQLite's busy timeout: a writer waits at most 30 s, then fails
        # with a clear error; an abandoned transaction cannot hold row locks for long.
        connect_args={
            "connect_timeout": 10,
            # JIT off: filter expressions have large cost estimates, and compiling every query
            # cost 10x on small result sets.
            "options": "-c lock_timeout=30000 -c idle_in_transaction_session_timeout=120000"
                       " -c jit=off",
        },
    )


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - via the store
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE is possible.
        dbapi_conn.isolation_level = None
        apply_pragmas(dbapi_conn)  # the same set-up as the sqlite3 fast paths
        from ..query.sqlite_functions import register_sqlite_functions

        register_sqlite_functions(dbapi_conn)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
