"""The editor's YAML round-trip (spec §5.7): tasks -> annotated YAML list -> validated changes.

Fields come in the field table's order (``fields.FIELD_ORDER``); the read-only ones carry a
``# Read-only`` comment and are not saved; dotted keys of documents are expanded.

No Textual imports: the editor screen and tests use these functions directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from ..errors import UserError
from ..fields import FIELD_ORDER, NESTED_FIELDS, READ_ONLY_FIELDS, UPDATABLE_FIELDS
from ..lifecycle import check_transition
from ..models import Task, validate_fields

READ_ONLY_COMMENT = "# Read-only"
COMMENT_COLUMN = 50


class EditError(UserError):
    """The buffer cannot be saved; ``line``/``column`` are 1-based (0 = unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line else ""
        return where + self.message


@dataclass
class EditResult:
    """What saving the buffer would do: changed fields per task id, plus warnings."""

    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _field_lines(name: str, value: Any) -> list[str]:
    text = yaml.safe_dump({name: value}, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=1000)
    return text.rstrip("\n").split("\n")


def dump_tasks(tasks: list[Task]) -> str:
    """A YAML list of tasks in §1.1 order, read-only fields marked, a blank line between tasks."""
    blocks = []
    for task in tasks:
        lines: list[str] = []
        for name in FIELD_ORDER:
            value = _plain(getattr(task, name))
            flines = _field_lines(name, value)
            if name in READ_ONLY_FIELDS:
                first = flines[0]
                pad = max(1, COMMENT_COLUMN - 2 - len(first))
                flines[0] = first + " " * pad + READ_ONLY_COMMENT
            lines.extend(flines)
        blocks.append("\n".join(("- " if i == 0 else "  ") + ln for i, ln in enumerate(lines)))
    return "\n\n".join(blocks) + "\n"


def expand_dotted(value: Any) -> Any:
    """Expand dotted keys of nested mappings (`{'a.b': 1}` -> `{'a': {'b': 1}}`)."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub in value.items():
        sub = expand_dotted(sub)
        parts = str(key).split(".") if isinstance(key, str) and "." in key else [key]
        target = out
        for part in parts[:-1]:
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ValueError(f"Conflict detected at key: {part}")
            target = nxt
        last = parts[-1]
        if last in target and isinstance(target[last], dict) and isinstance(sub, dict):
            target[last].update(sub)
        elif last in target and (isinstance(target[last], dict) or isinstance(sub, dict)):
            raise ValueError(f"Conflict detected at key: {last}")
        else:
            target[last] = sub
    return out


def _marks(text: str) -> list[dict[str, tuple[int, int]]]:
    """Per list item: field name -> (line, column) of its key, for error positions."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    out = []
    if isinstance(root, yaml.SequenceNode):
        for item in root.value:
            pos: dict[str, tuple[int, int]] = {
                "": (item.start_mark.line + 1, item.start_mark.column + 1)}
            if isinstance(item, yaml.MappingNode):
                for key, _ in item.value:
                    pos[str(key.value)] = (key.start_mark.line + 1, key.start_mark.column + 1)
            out.append(pos)
    return out


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def parse_tasks(text: str, originals: list[Task]) -> EditResult:
    """Validate an edited buffer against the tasks it was made from; raise EditError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            raise EditError(f"YAML: {problem}", mark.line + 1, mark.column + 1) from None
        raise EditError(f"YAML: {problem}") from None
    if not isinstance(data, list):
        raise EditError("the buffer must be a YAML list of tasks", 1, 1)
    marks = _marks(text)

    def pos(i: int, name: str = "") -> tuple[int, int]:
        if i < len(marks):
            return marks[i].get(name) or marks[i][""]
        return (0, 0)

    if len(data) != len(originals):
        raise EditError(
            f"Number of tasks in the buffer ({len(data)}) should match the original"
            f" ({len(originals)}); use submit or delete to add or remove tasks", 1, 1)
    result = EditResult()
    for i, (item, task) in enumerate(zip(data, originals, strict=True)):
        if not isinstance(item, dict):
            raise EditError(f"task {i + 1}: expected a mapping of fields", *pos(i))
        if str(item.get("task_id")) != task.task_id:
            raise EditError(f"task {i + 1}: task_id must stay {task.task_id} (ids and their"
                            " order cannot change)", *pos(i, "task_id"))
        unknown = [k for k in item if k not in FIELD_ORDER]
        if unknown:
            raise EditError(f"task {task.task_id[:8]}: unknown field {unknown[0]!r}",
                            *pos(i, str(unknown[0])))
        before = {k: _plain(getattr(task, k)) for k in FIELD_ORDER}
        changes: dict[str, Any] = {}
        for name, value in item.items():
            if name in READ_ONLY_FIELDS:
                if not _same_loose(value, before[name]):
                    result.warnings.append(
                        f"task {task.task_id[:8]}: field {name!r} is read-only; change ignored")
                continue
            if name in NESTED_FIELDS:
                try:
                    value = expand_dotted(value)
                except ValueError as exc:
                    raise EditError(f"task {task.task_id[:8]}: {name}: {exc}",
                                    *pos(i, name)) from None
            if name in UPDATABLE_FIELDS and not _same(value, before[name]):
                changes[name] = value
        if changes:
            try:
                # the one validator of every way in (documents.validate_document via the model):
                # the saved values are its normalised ones (-0.0 -> 0.0, dotted keys expanded)
                changes = validate_fields(changes)
            except ValueError as exc:
                from ..models import validation_message

                msg = validation_message(exc)
                bad = msg.split(":", 1)[0].split(".")[0]
                raise EditError(f"task {task.task_id[:8]}: {msg}", *pos(i, bad)) from None
            if "status" in changes:
                try:
                    check_transition(task.status, changes["status"])
                except ValueError as exc:
                    raise EditError(f"task {task.task_id[:8]}: {exc}",
                                    *pos(i, "status")) from None
            result.changes[task.task_id] = changes
    return result


def _same_loose(value: Any, original: Any) -> bool:
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, str) and isinstance(original, str):
        return value.replace(" ", "T") == original.replace(" ", "T")
    return bool(value == original)


def diff_lines(originals: list[Task], changes: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(kind, text) lines for a preview: kind is 'task', '-', '+'."""
    out: list[tuple[str, str]] = []
    by_id = {t.task_id: t for t in originals}
    for task_id, fields in changes.items():
        task = by_id[task_id]
        out.append(("task", f"{task_id[:8]} {task.task_name or ''}".rstrip()))
        for name, new in fields.items():
            for line in _field_lines(name, _plain(getattr(task, name))):
                out.append(("-", line))
            for line in _field_lines(name, new):
                out.append(("+", line))
    return out
