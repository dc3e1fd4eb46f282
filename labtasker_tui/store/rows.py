"""Task rows: built from user input (validation, defaults) and read back as tasks, with no
SQLAlchemy import. The columns, their defaults and which are JSON or timestamps come from the
field table (:mod:`labtasker_tui.fields`).

Shared by :class:`~labtasker_tui.store.task_store.TaskStore` and the SQLite fast path of
``submit`` (:mod:`labtasker_tui.store.sqlite_direct`), so both write identical rows.
"""

from __future__ import annotations

import json
import math
import operator
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..canonical import args_hash
from ..documents import MALFORMED_KEY
from ..errors import UserError
from ..fields import FIELDS, JSON_FIELDS, SUBMIT_FIELDS, TIME_FIELDS
from ..fields import TASK_COLUMNS as TASK_FIELDS

if TYPE_CHECKING:
    from ..models import Task

__all__ = ["JSON_FIELDS", "TASK_FIELDS", "TIME_FIELDS", "import_row", "json_dumps",
           "json_loads", "new_task_row", "row_to_task", "sqlite_params"]

# A row is keyed by column, the values users give by field name. The two agree for every field
# users may set (only the read-only queue_id is stored as "queue"; tests/core/test_fields.py
# checks it), so validated values go into a row as they are.

_SUBMIT = frozenset(SUBMIT_FIELDS)
#: A row read back as a task: each field's name, and its value from the row's column.
_TASK_NAMES = tuple(f.name for f in FIELDS)
_row_values = operator.itemgetter(*(f.column for f in FIELDS))
#: A new row before the store and the user fill it in; documents get a fresh dict per row.
_BLANK_ROW: dict[str, Any] = {f.column: f.default for f in FIELDS}
_DOC_COLUMNS = tuple(f.column for f in FIELDS if isinstance(f.default, dict))
#: Read-only fields an imported record keeps as given (beside task_id, queue and times).
_IMPORTED_AS_IS = tuple(f.name for f in FIELDS if not f.updatable and not f.hidden
                        and f.kind != "time" and f.name not in ("task_id", "queue_id"))
_HIDDEN = tuple(f.name for f in FIELDS if f.hidden)


_dumps = json.JSONEncoder(allow_nan=False).encode


def json_dumps(value: Any) -> str:
    """The store's one JSON writer (engine serializer, SQLite bulk paths).

    Never writes non-JSON text: NaN/Infinity raise ValueError (``allow_nan=False``), so a value
    that escaped validation fails its write instead of poisoning the column. Floats from 1e16
    up, which Python writes as ``1e+16``, are written in full with a decimal point
    (``10000000000000000.0``): PostgreSQL's jsonb keeps a number's scale, so ``1e+16`` would
    come back as the integer 10000000000000000.
    """
    text = _dumps(value)
    if "e+" in text and _has_big_float(value):
        return _encode(value)
    return text


def _has_big_float(value: Any) -> bool:
    if isinstance(value, float):
        return "e+" in repr(value)
    if isinstance(value, dict):
        return any(_has_big_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_big_float(v) for v in value)
    return False


def _float_text(value: float) -> str:
    text = repr(value)
    if "e+" not in text:
        return text
    from decimal import Decimal  # rare (floats >= 1e16): not loaded by every reader

    return format(Decimal(text), "f") + ".0"


def _encode(value: Any) -> str:
    """Slow path of :func:`json_dumps` (values holding floats >= 1e16)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
        return _float_text(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_dumps(str(k))}: {_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_encode(v) for v in value) + "]"
    return _dumps(value)


def _constant(name: str) -> str:
    return name  # NaN, Infinity, -Infinity: read as the strings the job API stores


_decode = json.JSONDecoder(parse_constant=_constant).decode


def json_loads(text: str | bytes) -> Any:
    """The store's JSON reader: never raises, so one bad row cannot stop a listing.

    Non-finite numbers (text from older versions) read as ``"NaN"``/``"Infinity"``/
    ``"-Infinity"``; text that is not JSON at all reads as ``{"labtasker_malformed": raw}``.
    """
    try:
        if type(text) is str and not text.startswith("\ufeff"):
            return _decode(text)  # json.loads(text, parse_constant=...) without a new decoder
        return json.loads(text, parse_constant=_constant)
    except (ValueError, RecursionError):
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else text
        return {MALFORMED_KEY: raw}


def validate_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The user's values normalised (``models.validate_fields``); checked without pydantic
    when they are surely valid (:mod:`labtasker_tui.plain_checks`), so that a plain submit
    never loads it."""
    from ..plain_checks import check_fields

    checked = check_fields(values)
    if checked is not None:
        return checked
    from ..models import validate_fields as validate

    return validate(values)


def validation_message(exc: Exception) -> str:
    from ..models import validation_message as message

    return message(exc)


def row_to_task(row: Any) -> Task:
    """A ``tasks`` row (a SQLAlchemy Row, columns by name) as a Task, without validation."""
    from ..models import Task  # pydantic loads only when whole tasks are read

    values = _row_values(row._mapping)
    return Task.model_construct(**dict(zip(_TASK_NAMES, values, strict=True)))


def _blank_row(task_id: str, queue: str, created: datetime) -> dict[str, Any]:
    row = _BLANK_ROW.copy()
    for col in _DOC_COLUMNS:
        row[col] = {}
    row["task_id"] = task_id
    row["queue"] = queue
    row["created_at"] = row["last_modified"] = created
    return row


def new_task_row(spec: dict[str, Any], queue: str, now: datetime) -> dict[str, Any]:
    """Validate a submit spec (the fields users give at submit) into a full row."""
    unknown = set(spec) - _SUBMIT
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
    row = _blank_row(str(uuid.uuid4()), queue, now)
    row.update(values)
    row["args"] = args
    row["cmd"] = cmd
    row["args_hash"] = args_hash(args)
    return row


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
    times = {k: _parse_time(rec.pop(k, None), k) for k in TIME_FIELDS}
    as_is = {k: rec.pop(k, None) for k in _IMPORTED_AS_IS}
    for name in _HIDDEN:
        rec.pop(name, None)  # a new row: version starts at 1
    try:
        values = validate_fields(rec)
    except ValueError as exc:
        raise UserError(f"task {task_id}: {validation_message(exc)}") from None
    created = times["created_at"] or now
    row = _blank_row(task_id, rec_queue, created)
    row.update(times, created_at=created, last_modified=times["last_modified"] or created)
    row.update(as_is)
    row.update(values)
    row["args_hash"] = args_hash(row["args"])
    return row


def sqlite_params(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as SQLite parameters in TASK_FIELDS order: JSON text, naive-UTC timestamp text
    (the format SQLAlchemy's SQLite DateTime reads back)."""
    dumps = json_dumps
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
