"""Task rows from user input: validation and defaults, with no SQLAlchemy import.

Shared by :class:`~labtasker_tui.store.task_store.TaskStore` and the SQLite fast path of
``submit`` (:mod:`labtasker_tui.store.fast_submit`), so both write identical rows.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from ..lifecycle import DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY
from .errors import UserError

# column order of the tasks table (tests check it against schema.tasks)
TASK_FIELDS: tuple[str, ...] = (
    "task_id", "queue", "status", "task_name", "created_at", "start_time", "last_heartbeat",
    "last_modified", "heartbeat_timeout", "task_timeout", "max_retries", "retries", "priority",
    "metadata", "args", "cmd", "summary", "worker_id", "version",
)
JSON_FIELDS = frozenset({"metadata", "args", "cmd", "summary"})
TIME_FIELDS = frozenset({"created_at", "start_time", "last_heartbeat", "last_modified"})


def validate_fields(values: dict[str, Any]) -> dict[str, Any]:
    from ..models import validate_fields as validate

    return validate(values)


def validation_message(exc: Exception) -> str:
    from ..models import validation_message as message

    return message(exc)


def new_task_row(spec: dict[str, Any], queue: str, now: datetime) -> dict[str, Any]:
    """Validate a submit spec (updatable fields only) into a full row."""
    allowed = {"task_name", "args", "metadata", "cmd", "priority", "max_retries",
               "heartbeat_timeout", "task_timeout"}
    unknown = set(spec) - allowed
    if unknown:
        raise UserError(f"unknown field(s) in task spec: {', '.join(sorted(unknown))}")
    try:
        values = validate_fields(spec)
    except ValueError as exc:
        raise UserError(validation_message(exc)) from None
    args = values.get("args") or {}
    cmd = values.get("cmd") or ""
    if not args and not cmd:
        raise UserError("Either cmd or args must be specified.")
    return {
        "task_id": str(uuid.uuid4()),
        "queue": queue,
        "status": "pending",
        "task_name": values.get("task_name"),
        "created_at": now,
        "start_time": None,
        "last_heartbeat": None,
        "last_modified": now,
        "heartbeat_timeout": values.get("heartbeat_timeout", DEFAULT_HEARTBEAT_TIMEOUT),
        "task_timeout": values.get("task_timeout"),
        "max_retries": values.get("max_retries", DEFAULT_MAX_RETRIES),
        "retries": 0,
        "priority": values.get("priority", DEFAULT_PRIORITY),
        "metadata": values.get("metadata") or {},
        "args": args,
        "cmd": cmd,
        "summary": {},
        "worker_id": None,
        "version": 1,
    }


def _parse_time(value: Any, field_name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UserError(f"{field_name}: not an ISO 8601 datetime: {value!r}") from None
    else:
        raise UserError(f"{field_name}: expected an ISO 8601 datetime, got {value!r}")
    if dt is not None and dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def import_row(record: dict[str, Any], queue: str, now: datetime) -> dict[str, Any]:
    """A full exported record (or a partial one) into a row; missing fields are filled in."""
    rec = dict(record)
    if "_id" in rec and "task_id" not in rec:
        rec["task_id"] = rec.pop("_id")
    task_id = rec.pop("task_id", None) or str(uuid.uuid4())
    try:
        task_id = str(uuid.UUID(str(task_id)))
    except ValueError:
        raise UserError(f"task_id: not a UUID: {task_id!r}") from None
    rec_queue = rec.pop("queue_id", None) or rec.pop("queue", None) or queue
    times = {k: _parse_time(rec.pop(k, None), k) for k in
             ("created_at", "start_time", "last_heartbeat", "last_modified")}
    worker_id = rec.pop("worker_id", None)
    rec.pop("version", None)
    status = rec.get("status", "pending")
    fields = {k: v for k, v in rec.items()}
    fields.setdefault("heartbeat_timeout", DEFAULT_HEARTBEAT_TIMEOUT)
    fields.setdefault("status", status)
    try:
        values = validate_fields(fields)
    except ValueError as exc:
        raise UserError(f"task {task_id}: {validation_message(exc)}") from None
    created = times["created_at"] or now
    return {
        "task_id": task_id,
        "queue": rec_queue,
        "status": values["status"],
        "task_name": values.get("task_name"),
        "created_at": created,
        "start_time": times["start_time"],
        "last_heartbeat": times["last_heartbeat"],
        "last_modified": times["last_modified"] or created,
        "heartbeat_timeout": values.get("heartbeat_timeout"),
        "task_timeout": values.get("task_timeout"),
        "max_retries": values.get("max_retries", DEFAULT_MAX_RETRIES),
        "retries": values.get("retries", 0),
        "priority": values.get("priority", DEFAULT_PRIORITY),
        "metadata": values.get("metadata") or {},
        "args": values.get("args") or {},
        "cmd": values.get("cmd", ""),
        "summary": values.get("summary") or {},
        "worker_id": worker_id,
        "version": 1,
    }


def sqlite_params(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as SQLite parameters in TASK_FIELDS order: JSON text, naive-UTC timestamp text
    (the format SQLAlchemy's SQLite DateTime reads back)."""
    dumps = json.dumps
    stamps: dict[datetime, str] = {}  # a batch shares few distinct timestamps

    def stamp(v: datetime | None) -> str | None:
        if v is None:
            return None
        text = stamps.get(v)
        if text is None:
            text = stamps[v] = v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return text

    plan = [(n, dumps if n in JSON_FIELDS else stamp if n in TIME_FIELDS else None)
            for n in TASK_FIELDS]
    return [tuple(f(r[n]) if f else r[n] for n, f in plan) for r in rows]
