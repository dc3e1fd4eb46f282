"""How filter paths start: the task fields that are plain columns, and the JSON columns."""

from __future__ import annotations

from labtasker_tui.fields import BY_NAME, JSON_FIELDS, NESTED_FIELDS, SCALAR_TYPES

#: JSON document columns (data model §1.1).
JSON_COLUMNS: tuple[str, ...] = JSON_FIELDS
#: The JSON columns that always hold objects (``cmd`` may be a string or a list).
OBJECT_COLUMNS: frozenset[str] = frozenset(NESTED_FIELDS)
#: Task field name -> (column name, BSON type), from the field table. ``_id`` is the Mongo name
#: of task_id.
SCALAR_FIELDS: dict[str, tuple[str, str]] = {
    name: (BY_NAME[name].column, kind) for name, kind in SCALAR_TYPES.items()}
SCALAR_FIELDS["_id"] = SCALAR_FIELDS["task_id"]


def is_array_index(seg: str) -> bool:
    """A path segment that also selects an array element (``args.nums.0``)."""
    return seg.isdigit() and seg.isascii() and len(seg) < 10
