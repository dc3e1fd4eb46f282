"""The task fields (spec §1.1): one definition, used by models, arguments, filters and the UI.

Kept free of imports so the lightest modules (argument parsing, the filter parser) can use it.
"""

from __future__ import annotations

# Display and output order.
FIELD_ORDER: tuple[str, ...] = (
    "task_id", "queue_id", "status", "task_name", "created_at", "start_time",
    "last_heartbeat", "last_modified", "heartbeat_timeout", "task_timeout", "max_retries",
    "retries", "priority", "metadata", "args", "cmd", "summary", "worker_id",
)
UPDATABLE_FIELDS: tuple[str, ...] = (
    "status", "task_name", "heartbeat_timeout", "task_timeout", "max_retries", "retries",
    "priority", "metadata", "args", "cmd", "summary",
)
READ_ONLY_FIELDS: tuple[str, ...] = tuple(f for f in FIELD_ORDER if f not in UPDATABLE_FIELDS)
# Fields whose sub-paths can be set (`args.opt.lr=0.1`) and filtered like documents.
NESTED_FIELDS: tuple[str, ...] = ("args", "metadata", "summary")
# Fields stored as JSON documents (cmd is a string or a list; the others are objects).
JSON_FIELDS: tuple[str, ...] = ("args", "metadata", "summary", "cmd")
# The fetch order (spec: workers take the highest priority, then the oldest change), as
# (field, descending); every full order ends with the TIE_BREAKERS.
FETCH_ORDER: tuple[tuple[str, bool], ...] = (("priority", True), ("last_modified", False))
TIE_BREAKERS: tuple[tuple[str, bool], ...] = (("created_at", False), ("task_id", False))
