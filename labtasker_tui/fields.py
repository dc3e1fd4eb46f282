"""The task's fields (spec §1.1), declared once in :data:`FIELDS`; the rest is derived from it.

What reads the table: the models (``models.Task`` is checked against it, ``TaskFields`` is
built from it), the store's rows (``store/rows.py``: column mapping, defaults, JSON and time
conversions), the schema (``schema.py`` checks its column list and derives the JSON CHECK),
argument and filter parsing, the filter compiler (``query/columns.py`` reads
:data:`SCALAR_TYPES`), the facets (:data:`FACET_FIELDS`), the editor's YAML
(``tui/task_yaml.py``), and the table columns of the app (``tui/cells.py``) and of ``ls``
(``formats.py``).

Adding a task field touches four modules: an entry here; its SQL column in ``schema.py``; a
migration step in ``store/migrations.py``; its typed attribute on ``models.Task`` (and, if
users may set it with a constraint beyond its type, an entry in ``models.USER_TYPES``).

Only the standard library and the lifecycle's defaults are imported: the argument parser and
the filter parser import this module, and must stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import NoneType
from typing import Any, Literal, get_args

from .lifecycle import DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_PRIORITY

#: text, number: plain SQL columns; time: UTC timestamps; document: a JSON object whose
#: sub-paths can be set and filtered (``args.lr``); json: another JSON value (``cmd``).
Kind = Literal["text", "number", "time", "document", "json"]


@dataclass(frozen=True, slots=True, eq=False)
class TaskField:
    """One field of a task."""

    name: str
    #: the Python type of its value (``models.Task``'s annotation; ``| None``: nullable)
    type: Any
    kind: Kind
    #: users may change it (update, editor, import); read-only otherwise
    updatable: bool = False
    #: users may also give it at submit (the others that are updatable are run state:
    #: status, retries and summary start as the defaults and change as the task runs)
    at_submit: bool = False
    #: what a new task holds when nobody gives a value (fields the store always sets at
    #: creation, such as task_id and created_at, have none)
    default: Any = None
    #: its column in the ``tasks`` table, when not spelled as ``name``
    store_as: str = ""
    #: can be faceted as a whole value (timestamps cannot: every one is distinct)
    facet: bool = False
    #: stored but not a §1.1 field: not shown, exported, edited nor filtered (``version``)
    hidden: bool = False

    @property
    def column(self) -> str:
        """The field's column in the ``tasks`` table."""
        return self.store_as or self.name

    @property
    def nullable(self) -> bool:
        return NoneType in get_args(self.type)

    @property
    def bson_type(self) -> str:
        """How filters compare a plain field's values: MongoDB's type name (spec §3.4).
        A KeyError for a type with none here (add it to ``_BSON_TYPES``)."""
        base = next((t for t in get_args(self.type) if t is not NoneType), self.type)
        return _BSON_TYPES[base]

    def new_value(self) -> Any:
        """The default as a fresh value (a document default is a new dict every time)."""
        return dict(self.default) if isinstance(self.default, dict) else self.default


_DOC = dict[str, Any]
_BSON_TYPES: dict[Any, str] = {str: "string", int: "int", float: "double", datetime: "date"}

#: Every field, in display and output order (§1.1), then the hidden ones.
FIELDS: tuple[TaskField, ...] = (
    TaskField("task_id", str, "text", facet=True),
    TaskField("queue_id", str, "text", default="default", store_as="queue"),
    TaskField("status", str, "text", updatable=True, default="pending", facet=True),
    TaskField("task_name", str | None, "text", updatable=True, at_submit=True, facet=True),
    TaskField("created_at", datetime, "time"),
    TaskField("start_time", datetime | None, "time"),
    TaskField("last_heartbeat", datetime | None, "time"),
    TaskField("last_modified", datetime, "time"),
    TaskField("heartbeat_timeout", float | None, "number", updatable=True, at_submit=True,
              default=DEFAULT_HEARTBEAT_TIMEOUT, facet=True),
    TaskField("task_timeout", int | None, "number", updatable=True, at_submit=True,
              facet=True),
    TaskField("max_retries", int, "number", updatable=True, at_submit=True,
              default=DEFAULT_MAX_RETRIES, facet=True),
    TaskField("retries", int, "number", updatable=True, default=0, facet=True),
    TaskField("priority", int, "number", updatable=True, at_submit=True,
              default=DEFAULT_PRIORITY, facet=True),
    TaskField("metadata", _DOC, "document", updatable=True, at_submit=True, default={}),
    TaskField("args", _DOC, "document", updatable=True, at_submit=True, default={}),
    TaskField("cmd", str | list[str], "json", updatable=True, at_submit=True, default=""),
    TaskField("summary", _DOC, "document", updatable=True, default={}),
    TaskField("worker_id", str | None, "text", facet=True),
    TaskField("version", int, "number", default=1, hidden=True),
    # labtasker_tui.canonical.args_hash(args), kept by every write that sets args (schema v4):
    # the key of deduplication; NULL only for a row written by hand, outside the store
    TaskField("args_hash", int | None, "number", hidden=True),
)


@dataclass(frozen=True, slots=True)
class TableColumn:
    """A field shown as a built-in column of the task tables."""

    field: str
    key: str  # the app's column key (kept in views' column lists)
    label: str  # the app's header
    width: int  # the app's default width
    cli: str | None = None  # the header in ``ls --format table``; None: not shown there


#: The built-in table columns, in their order (the app's table starts with a mark column).
TABLE_COLUMNS: tuple[TableColumn, ...] = (
    TableColumn("task_id", "id", "id", 8, cli="ID"),
    TableColumn("task_name", "name", "name", 12, cli="NAME"),
    TableColumn("status", "status", "status", 9, cli="STATUS"),
    TableColumn("priority", "priority", "prio", 4, cli="PRI"),
    TableColumn("args", "args", "args", 20, cli="ARGS"),
    TableColumn("summary", "summary", "summary", 14),
    TableColumn("created_at", "created", "created", 7, cli="CREATED"),
    TableColumn("last_modified", "modified", "modified", 8),
)

# -- derived ----------------------------------------------------------------------------------

BY_NAME: dict[str, TaskField] = {f.name: f for f in FIELDS}
_PUBLIC = tuple(f for f in FIELDS if not f.hidden)

# Display and output order.
FIELD_ORDER: tuple[str, ...] = tuple(f.name for f in _PUBLIC)
UPDATABLE_FIELDS: tuple[str, ...] = tuple(f.name for f in _PUBLIC if f.updatable)
READ_ONLY_FIELDS: tuple[str, ...] = tuple(f.name for f in _PUBLIC if not f.updatable)
#: What a submit spec may hold.
SUBMIT_FIELDS: tuple[str, ...] = tuple(f.name for f in _PUBLIC if f.at_submit)
# Fields whose sub-paths can be set (`args.opt.lr=0.1`) and filtered like documents; by name.
NESTED_FIELDS: tuple[str, ...] = tuple(sorted(f.name for f in FIELDS if f.kind == "document"))
# Fields stored as JSON documents (cmd is a string or a list; the others are objects).
JSON_FIELDS: tuple[str, ...] = (
    *NESTED_FIELDS, *(f.name for f in FIELDS if f.kind == "json"))
#: Timestamps (timezone-aware UTC in Python).
TIME_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "time")
#: Top-level fields that can be faceted as whole values (the JSON fields facet by path).
FACET_FIELDS: tuple[str, ...] = tuple(f.name for f in _PUBLIC if f.facet)
#: Plain (not JSON) fields and the MongoDB type filters compare them as: {"priority": "int"}.
SCALAR_TYPES: dict[str, str] = {
    f.name: f.bson_type for f in _PUBLIC if f.kind not in ("document", "json")}
#: The ``tasks`` table's columns, in the schema's order (``schema.py`` checks it).
TASK_COLUMNS: tuple[str, ...] = tuple(f.column for f in FIELDS)
#: Column names that differ from their field's name: ``{"queue": "queue_id"}``.
COLUMN_ALIASES: dict[str, str] = {f.column: f.name for f in FIELDS if f.column != f.name}

# The fetch order (spec: workers take the highest priority, then the oldest change), as
# (field, descending); every full order ends with the TIE_BREAKERS.
FETCH_ORDER: tuple[tuple[str, bool], ...] = (("priority", True), ("last_modified", False))
TIE_BREAKERS: tuple[tuple[str, bool], ...] = (("created_at", False), ("task_id", False))
