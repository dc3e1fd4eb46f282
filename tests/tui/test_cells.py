"""The app's built-in columns and column paths come from the field table (fields.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from labtasker_tui.fields import FIELD_ORDER, FIELDS, TABLE_COLUMNS
from labtasker_tui.models import Task
from labtasker_tui.tui import cells
from labtasker_tui.tui.screens import columns
from labtasker_tui.tui.widgets import task_table

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_table_columns_are_the_field_tables():
    # every built-in column of the field table is in the app's table (after its mark column)
    # and in the column picker, with its label, width and sort path, in the table's order
    assert task_table.COLUMNS[0][0] == "mark"
    shown = task_table.COLUMNS[1:]
    assert [(key, label, width) for key, label, _, width in shown] == [
        (c.key, c.label, c.width) for c in TABLE_COLUMNS]
    for c in TABLE_COLUMNS:
        assert cells.FIELD_OF[c.key] == c.field and task_table.KEY_OF[c.field] == c.key
        assert (c.field, c.label) in columns.BUILTIN
        assert task_table.SORT_PATHS.get(c.key) == (
            None if c.field in ("args", "summary") else c.field)
    assert [name for name, _ in columns.BUILTIN] == [c.field for c in TABLE_COLUMNS]
    # the picker's labels as before the switch
    assert dict(columns.BUILTIN) == {
        "task_id": "id", "task_name": "name", "status": "status", "priority": "prio",
        "args": "args", "summary": "summary", "created_at": "created",
        "last_modified": "modified"}
    assert cells.FIELD_COLUMNS[3] == ("priority", "prio", "priority", 4)
    assert ("args", "args", None, 20) in cells.FIELD_COLUMNS  # documents do not sort whole
    # a header click sorts numbers and times highest / newest first
    assert task_table.NEWEST_FIRST == {"priority", "created_at", "last_modified"}


def test_column_paths_start_with_any_field():
    for name in FIELD_ORDER:
        assert cells.parse_column_path(f"{name}.x")[0] == name
    assert cells.parse_column_path("lr") == ("args", "lr")
    assert cells.parse_column_path("version") == ("args", "version")  # hidden: not a field


def test_every_field_renders_as_a_column():
    values = {f.name: f.new_value() for f in FIELDS}
    values.update(task_id="t1", queue_id="q7", created_at=NOW, last_modified=NOW,
                  task_name="n", worker_id="w1", summary={"acc": 0.5})
    task = Task.model_construct(**values)
    texts = {name: cells.column_text(task, name, NOW) for name in FIELD_ORDER}
    assert texts["queue_id"] == "q7"  # (was blank: the path read a "queue" attribute)
    assert texts["created_at"] == "just now" and texts["start_time"] == ""
    assert texts["priority"] == "10" and texts["worker_id"] == "w1"
    assert cells.column_text(task, "summary.acc", NOW) == "0.5"
