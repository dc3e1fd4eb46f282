"""Output formats for tasks: table, yaml, json, jsonl and ids (data on stdout only)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from .documents import flatten
from .fields import BY_NAME, TIME_FIELDS
from .fields import TABLE_COLUMNS as _COLUMNS
from .safe_text import inert
from .timefmt import ago

if TYPE_CHECKING:
    from .models import Task as _Model
    from .plain_task import PlainTask

    #: A pydantic task from the store or a plain one from the direct SQLite reads.
    Task = _Model | PlainTask

FORMATS = ("table", "yaml", "json", "jsonl")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):  # never stored by this version; shown, not fatal
        return value.decode("utf-8", "replace")
    return repr(value)


def task_dict(task: Task) -> dict[str, Any]:
    """Every §1.1 field, in order, JSON-ready (datetimes as ISO 8601 with offset)."""
    rec = task.record()
    for key in TIME_FIELDS:
        if rec[key] is not None:
            rec[key] = rec[key].isoformat()
    return rec


def dumps_compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def task_jsonl(task: Task) -> str:
    """One task as a JSON line. Never fails on a stored value, so an export cannot stop
    halfway: NaN/±inf (from older versions) become "NaN"/"Infinity"/"-Infinity", as the job API
    stores them, and lone surrogates become "?"."""
    rec = task_dict(task)
    try:
        text = json.dumps(rec, ensure_ascii=False, separators=(",", ":"),
                          default=_json_default, allow_nan=False)
    except (ValueError, RecursionError):
        text = json.dumps(_sanitise(rec), ensure_ascii=False, separators=(",", ":"),
                          default=_json_default, allow_nan=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _sanitise(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy: non-finite floats as their JSON-API strings; too-deep values as text."""
    from .documents import MAX_DEPTH, nonfinite_text

    if isinstance(value, float) and not math.isfinite(value):
        return nonfinite_text(value)
    if depth > MAX_DEPTH * 2 and isinstance(value, dict | list):
        return repr(value)[:1000]
    if isinstance(value, dict):
        return {str(k): _sanitise(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitise(v, depth + 1) for v in value]
    return value


def task_yaml(task: Task) -> str:
    """One task as a one-element YAML list (Labtasker's look), keys in §1.1 order."""
    import yaml

    return yaml.safe_dump([task_dict(task)], sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)


def compact_args(args: dict[str, Any], limit: int = 60) -> str:
    """`lr=0.1 opt.momentum=0.9` for a table cell (control characters escaped)."""
    parts = [f"{k}={_short(v)}" for k, v in flatten(args).items()]
    out = inert(" ".join(parts))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _short(v: Any) -> str:
    if isinstance(v, str):
        return v
    return _short_json(v)


#: json.dumps(v, ensure_ascii=False, default=_json_default), its encoder built once
_short_json = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
_TABLE_FIELDS = tuple(c.field for c in _COLUMNS if c.cli)
TABLE_COLUMNS: tuple[str, ...] = tuple(c.cli for c in _COLUMNS if c.cli)


def _cell(task: Task, name: str, now: datetime) -> str:
    value = getattr(task, name)
    if value is None or value == "":
        return "-"
    if name == "task_id":
        return inert(value[:8])
    kind = BY_NAME[name].kind
    if kind == "time":
        return ago(value, now)
    if kind == "document":
        return compact_args(value)
    return inert(value if isinstance(value, str) else _short(value))


def table_row(task: Task, now: datetime) -> list[str]:
    """The table's cells (fields.TABLE_COLUMNS shown by ``ls``), control characters shown as
    escapes (values are user data)."""
    return [_cell(task, name, now) for name in _TABLE_FIELDS]


def write_chunk(tasks: list[Task], fmt: str, out: TextIO, *, first: bool,
                now: datetime | None = None) -> None:
    """Write one chunk of a stream in ``fmt`` (``first``: the chunk that opens the output).

    A json array needs "[" before the first chunk and "]" after the last: see
    :func:`json_close`. Table columns are aligned per chunk, so output streams."""
    if fmt == "jsonl":
        out.write("".join(task_jsonl(t) + "\n" for t in tasks))
    elif fmt == "json":
        for t in tasks:
            out.write(("\n  " if first else ",\n  ") + task_jsonl(t))
            first = False
    elif fmt == "yaml":
        for t in tasks:
            out.write(("" if first else "\n\n") + task_yaml(t))
            first = False
    elif tasks:
        now = now or datetime.now(UTC)
        rows = ([list(TABLE_COLUMNS)] if first else []) + [table_row(t, now) for t in tasks]
        widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_COLUMNS))]
        for r in rows:
            out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                      + "\n")


def json_close(wrote_any: bool) -> str:
    return "\n]\n" if wrote_any else "]\n"


def iter_json_records(text_or_lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """Records from JSON lines (blank lines skipped); yields (line number, value)."""
    for lineno, line in enumerate(text_or_lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            msg = f"line {lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
            raise ValueError(msg) from None
        except RecursionError:
            raise ValueError(f"line {lineno}: invalid JSON: nested too deeply") from None
