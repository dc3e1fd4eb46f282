"""How filter paths start: the task fields that are plain columns, and the JSON columns."""

from __future__ import annotations

from labtasker_tui.fields import JSON_FIELDS, NESTED_FIELDS

#: JSON document columns (data model §1.1).
JSON_COLUMNS: tuple[str, ...] = JSON_FIELDS
#: The JSON columns that always hold objects (``cmd`` may be a string or a list).
OBJECT_COLUMNS: frozenset[str] = frozenset(NESTED_FIELDS)
#: Task field name -> (column name, kind). ``_id`` is the Mongo name of task_id.
SCALAR_FIELDS: dict[str, tuple[str, str]] = {
    "task_id": ("task_id", "string"),
    "_id": ("task_id", "string"),
    "queue_id": ("queue", "string"),
    "status": ("status", "string"),
    "task_name": ("task_name", "string"),
    "worker_id": ("worker_id", "string"),
    "created_at": ("created_at", "date"),
    "start_time": ("start_time", "date"),
    "last_heartbeat": ("last_heartbeat", "date"),
    "last_modified": ("last_modified", "date"),
    "heartbeat_timeout": ("heartbeat_timeout", "double"),
    "task_timeout": ("task_timeout", "int"),
    "max_retries": ("max_retries", "int"),
    "retries": ("retries", "int"),
    "priority": ("priority", "int"),
}


def is_array_index(seg: str) -> bool:
    """A path segment that also selects an array element (``args.nums.0``)."""
    return seg.isdigit() and seg.isascii() and len(seg) < 10
