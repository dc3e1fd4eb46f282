"""The SQL schema: one ``tasks`` table (plus views, workers and a schema version).

The ``tasks`` columns follow the field table (:mod:`labtasker_tui.fields`). JSON documents
(``fields.JSON_FIELDS``: args, metadata, summary, cmd) are ``JSON`` on SQLite and ``JSONB`` on
PostgreSQL. Timestamps are stored in UTC; on SQLite as naive UTC text, on PostgreSQL as
``timestamptz``. Python always sees timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

from .fields import JSON_FIELDS, TASK_COLUMNS
from .settings import SCHEMA_VERSION  # noqa: E402,F401 - re-exported


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; naive UTC on SQLite, timestamptz on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDoc = JSON().with_variant(JSONB(), "postgresql")

metadata_obj = MetaData()

tasks = Table(
    "tasks",
    metadata_obj,
    Column("task_id", String(36), primary_key=True),
    Column("queue", String(100), nullable=False, default="default"),
    Column("status", String(16), nullable=False),
    Column("task_name", String(100), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("start_time", UTCDateTime(), nullable=True),
    Column("last_heartbeat", UTCDateTime(), nullable=True),
    Column("last_modified", UTCDateTime(), nullable=False),
    Column("heartbeat_timeout", Float, nullable=True),
    Column("task_timeout", BigInteger, nullable=True),
    Column("max_retries", BigInteger, nullable=False),
    Column("retries", BigInteger, nullable=False),
    Column("priority", BigInteger, nullable=False),
    # the attribute key is "metadata" too: Core tables have no clash with MetaData
    Column("metadata", JSONDoc, nullable=False),
    Column("args", JSONDoc, nullable=False),
    Column("cmd", JSONDoc, nullable=False),
    Column("summary", JSONDoc, nullable=False),
    Column("worker_id", String(36), nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Column("args_hash", BigInteger, nullable=True),  # v4: canonical.args_hash(args)
)
# The columns are the field table's (fields.FIELDS; tests/core/test_fields.py also checks
# nullability); their SQL types are spelled here, as existing databases have them.
if tuple(tasks.c.keys()) != TASK_COLUMNS:
    raise RuntimeError(f"schema.tasks columns {tuple(tasks.c.keys())} != fields {TASK_COLUMNS}")

# Fetch order: priority desc, last_modified asc, created_at asc (spec §3.4, §7.3).
Index(
    "ix_tasks_fetch_order",
    tasks.c.queue,
    tasks.c.status,
    tasks.c.priority.desc(),
    tasks.c.last_modified,
    tasks.c.created_at,
    tasks.c.task_id,
)
Index("ix_tasks_queue_order", tasks.c.queue, tasks.c.priority.desc(), tasks.c.last_modified,
      tasks.c.created_at, tasks.c.task_id)
Index("ix_tasks_name", tasks.c.task_name)
# v4: deduplication looks configurations up by args_hash (then checks the queue)
# One column, not (queue, args_hash): with queue first, SQLite (no ANALYZE statistics) picked
# it for every `queue = ?` read, such as the status counts, and paid a row lookup per task
# (2.7 s instead of 0.25 s at 1,000,000 tasks). The hash is all but unique: the queue is
# checked on the few rows it finds.
ARGS_HASH_INDEX = Index("ix_tasks_args_hash", tasks.c.args_hash)

# SQLite stores JSON as text and accepts anything: a row whose JSON is not valid (NaN from an
# old version, a hand-written UPDATE) made every JSON function over the column fail, and with
# it claims, filters and sorts of the whole queue. This constraint refuses such writes. (A
# CHECK, not a trigger: a trigger makes SQLite keep a statement journal per insert, which
# doubled the insert time of an import; the CHECK costs a few percent.)
JSON_VALID_SQL = " AND ".join(f"json_valid({c})" for c in JSON_FIELDS)
JSON_VALID_NAME = "tasks_json_valid"



def _sqlite_only(compiler: Any) -> bool:
    return bool(compiler.dialect.name == "sqlite")


# _create_rule (as SQLAlchemy's own Enum/Boolean CHECKs use) survives Table.to_metadata();
# ddl_if() does not
tasks.append_constraint(
    CheckConstraint(text(JSON_VALID_SQL), name=JSON_VALID_NAME, _create_rule=_sqlite_only))

views = Table(
    "views",
    metadata_obj,
    Column("queue", String(100), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("filter", Text, nullable=False, default=""),
    Column("sort", JSONDoc, nullable=False),
    Column("columns", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

workers = Table(
    "workers",
    metadata_obj,
    Column("worker_id", String(36), primary_key=True),
    Column("queue", String(100), nullable=False, default="default"),
    Column("worker_name", String(100), nullable=True),
    Column("host", String(255), nullable=True),
    Column("slot", String(32), nullable=True),
    Column("status", String(16), nullable=False, default="active"),
    Column("retries", BigInteger, nullable=False, default=0),
    Column("max_retries", BigInteger, nullable=False, default=3),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
)

# The edit journal (schema v3, store/journal.py): one entry per user change (app or CLI),
# with the before-image of every task it touched, so that the change can be undone. Shared on
# PostgreSQL: every machine sees it. Workers' claims, heartbeats and reports are not journaled.
journal = Table(
    "journal",
    metadata_obj,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("queue", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("who", String(255), nullable=False),  # user@host
    Column("actor", String(16), nullable=False),  # cli | app
    Column("task_count", BigInteger, nullable=False),
    Column("undo_of", Integer, nullable=True),  # the entry this one reverses (undo/redo)
    Column("undone_by", Integer, nullable=True),  # the entry that reversed this one
)
Index("ix_journal_queue_id", journal.c.queue, journal.c.id)
Index("ix_journal_created", journal.c.created_at)

# before_image: the full row as JSON text (store/journal.py task_image), NULL when the change
# created the task; after_version: the task's version right after the change, NULL when the
# change deleted it. Undo refuses when a task's current version is not after_version.
journal_tasks = Table(
    "journal_tasks",
    metadata_obj,
    Column("entry_id", Integer, primary_key=True),
    Column("task_id", String(36), primary_key=True),
    Column("before_image", Text, nullable=True),
    Column("after_version", Integer, nullable=True),
)

# The latest run of each task (schema v4, store/progress.py): the progress its job reports
# while it runs, and when it finished. A side table, not columns of ``tasks``: a progress report
# is frequent, so it must not bump the task's version (the exact-apply checks and undo compare
# versions) nor be journaled; and finish times must survive later edits of the task (an edit
# moves last_modified). ``run_start`` is the task's start_time for that run: a row whose
# run_start is not the running task's start_time describes an earlier run and is ignored, so
# nothing has to clear it when a task is reset, requeued or reclaimed.
task_runs = Table(
    "task_runs",
    metadata_obj,
    Column("task_id", String(36), primary_key=True),
    Column("queue", String(100), nullable=False),
    Column("run_start", UTCDateTime(), nullable=True),
    Column("progress", Float, nullable=True),  # 0..1
    Column("step", BigInteger, nullable=True),
    Column("total", BigInteger, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=True),  # last report
    Column("moved_at", UTCDateTime(), nullable=True),  # last report that changed the progress
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("outcome", String(16), nullable=True),  # the status the run left the task in
    Column("duration", Float, nullable=True),  # seconds from run_start to finished_at
)
# covers the completions per hour (outcome too): 72,000 finishes of a day counted in 50 ms
Index("ix_task_runs_queue_finished", task_runs.c.queue, task_runs.c.finished_at,
      task_runs.c.outcome)

# One row whose counter every write bumps: live views poll it instead of scanning tasks.
change_marker = Table(
    "change_marker",
    metadata_obj,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False, default=0),
)

# Sweeps (schema v4, store/sweeps.py): the spec of each named sweep of a queue, as expanded
# (JSON, labtasker_tui/sweeps.py), so that `sweep fill` can re-expand it. Its tasks carry
# metadata.sweep = {"name": ..., "id": sweep_id}.
sweeps = Table(
    "sweeps",
    metadata_obj,
    Column("queue", String(100), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("sweep_id", String(32), nullable=False),
    Column("spec", JSONDoc, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

schema_info = Table(
    "schema_info",
    metadata_obj,
    Column("key", String(50), primary_key=True),
    Column("value", Text, nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(UTC)
