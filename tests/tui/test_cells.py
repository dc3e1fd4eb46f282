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
    # until the table widget builds COLUMNS from cells.FIELD_COLUMNS, they must agree
    assert tuple(task_table.COLUMNS[1:]) == cells.FIELD_COLUMNS
    assert task_table.FIELD_OF == cells.FIELD_OF
    assert columns.BUILTIN == [(c.field, c.label) for c in TABLE_COLUMNS]
    assert cells.FIELD_COLUMNS[3] == ("priority", "prio", "priority", 4)
    assert ("args", "args", None, 20) in cells.FIELD_COLUMNS  # documents do not sort whole


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
