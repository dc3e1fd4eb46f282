"""Plain-text renderings of task fields for table cells (no Textual imports).

Renderings of user values (names, args, summary, extra columns) come out with control
characters escaped (:func:`..safe_text.inert`); the table wraps them in Rich ``Text``, never
markup, so ``[bold]`` in a value is shown as typed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..eta import RunningTask, is_stalled, progress_text
from ..fields import BY_NAME, FIELD_ORDER, TABLE_COLUMNS
from ..safe_text import inert
from ..timefmt import cell_ago

if TYPE_CHECKING:  # no pydantic at run time: ``ls --columns`` renders plain tasks too
    from ..models import Task as _Model
    from ..plain_task import PlainTask

    Task = _Model | PlainTask


def short_id(task_id: str) -> str:
    return task_id[:8]


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted (path, leaf) pairs of a nested mapping; empty mappings are leaves."""
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from flatten(sub, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compact_pairs(mapping: dict[str, Any], limit: int = 80) -> str:
    """`k=v k.sub=v` on one line, cut with an ellipsis at ``limit`` characters."""
    text = inert(" ".join(f"{k}={scalar_text(v)}" for k, v in flatten(mapping) if k))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_highlights(summary: dict[str, Any], limit: int = 40) -> str:
    """Numbers and short strings first; exceptions shown as a short marker."""
    pairs: list[str] = []
    for key, value in flatten(summary):
        if not key:
            continue
        if key.startswith(("labtasker_exception", "labtasker_error")):
            pairs.insert(0, f"! {scalar_text(value)}")
        else:
            pairs.append(f"{key}={scalar_text(value)}")
    text = inert(" ".join(pairs))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the run's progress (not a task field: store/progress.py reads it for running tasks) ------

#: column names that are not task paths (``args.progress`` still names an args key)
RUN_COLUMNS = ("progress",)


def progress_cell(task: Task, run: RunningTask | None, now: datetime,
                  stalled_after: float, *, steps: bool = True) -> str:
    """'120/1,000 12%' (or '12%' without ``steps``) for a running task that reported progress
    in this run, with ' stalled' when it has not moved for ``stalled_after`` seconds; blank
    otherwise."""
    if task.status != "running" or run is None or run.progress is None:
        return ""
    return progress_text(run.progress, run.step if steps else None, run.total,
                         stalled=is_stalled(run, now, stalled_after))


# -- extra columns by path -------------------------------------------------------------------

#: The app's built-in task columns (after its mark column), from ``fields.TABLE_COLUMNS``:
#: (key, label, sort path or None, width); a document does not sort as a whole.
FIELD_COLUMNS: tuple[tuple[str, str, str | None, int], ...] = tuple(
    (c.key, c.label, None if BY_NAME[c.field].kind == "document" else c.field, c.width)
    for c in TABLE_COLUMNS)
#: built-in column key -> the task field it shows (the path that names it in a view)
FIELD_OF: dict[str, str] = {c.key: c.field for c in TABLE_COLUMNS}


def parse_column_path(path: str) -> tuple[str, ...]:
    """`summary.acc` -> ('summary', 'acc'); `layers[0]` -> ('args', 'layers', '0').

    A path that does not start with a task field is an args path; a ``:width`` suffix (a
    column width kept with a view) is ignored here. Raises ValueError."""
    text = _strip_width(path.strip()).replace("[", ".").replace("]", "")
    parts = tuple(text.split("."))
    if not text or any(not p.strip() or p != p.strip() for p in parts):
        raise ValueError(f"not a path: {path.strip()!r} (e.g. args.model, summary.acc)")
    if text in RUN_COLUMNS:
        return parts
    if parts[0] not in FIELD_ORDER:
        parts = ("args", *parts)
    return parts


def _strip_width(spec: str) -> str:
    path, sep, width = spec.rpartition(":")
    return path if sep and width.isdigit() and path else spec


def parse_columns(text: str) -> list[str]:
    """Comma (or space) separated paths, normalised and de-duplicated (a ``:width`` suffix
    is kept: `args:40`). Raises ValueError."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in text.replace(",", " ").split():
        path = ".".join(parse_column_path(raw))
        if path in seen:
            continue
        seen.add(path)
        bare = _strip_width(raw)
        out.append(path + raw[len(bare):] if bare != raw else path)
    return out


_MISSING = object()


def path_value(task: Task, path: str) -> Any:
    """The value at ``path`` in ``task``, or ``_MISSING``."""
    head, *rest = parse_column_path(path)
    node: Any = getattr(task, head, _MISSING)
    for seg in rest:
        if isinstance(node, dict) and seg in node:
            node = node[seg]
        elif isinstance(node, list) and seg.lstrip("-").isdigit() and -len(node) <= int(
                seg) < len(node):
            node = node[int(seg)]
        else:
            return _MISSING
    return node


def column_text(task: Task, path: str, now: datetime, limit: int = 40) -> str:
    """A compact rendering of the value at ``path``; blank when missing."""
    value = path_value(task, path)
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, datetime):
        return cell_ago(value, now)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = inert(scalar_text(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_number(task: Task, path: str) -> bool:
    value = path_value(task, path)
    return isinstance(value, int | float) and not isinstance(value, bool)


def column_labels(paths: list[str]) -> list[str]:
    """Header labels: the last segment, the whole path when two would clash."""
    paths = [_strip_width(p) for p in paths]
    last = [p.rsplit(".", 1)[-1] for p in paths]
    return [tail if last.count(tail) == 1 else path.removeprefix("args.")
            for path, tail in zip(paths, last, strict=True)]
