"""The field table (labtasker_tui.fields) is the one spelling of a task's fields: the schema,
the models, the store's rows, the editor's YAML, the argument rules and the `ls` table agree
with it."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import yaml
from pydantic import ValidationError

from labtasker_tui import args, fields, formats, schema
from labtasker_tui.canonical import args_hash
from labtasker_tui.fields import FIELDS, TaskField
from labtasker_tui.models import Task, TaskFields, validate_fields, validation_message
from labtasker_tui.store import rows
from labtasker_tui.tui.task_yaml import READ_ONLY_COMMENT, dump_tasks

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_the_derived_lists_keep_their_order():
    # messages list these in this order ("one of: ..."); the JSON columns' order is the
    # documents by name, then cmd
    assert fields.FIELD_ORDER == (
        "task_id", "queue_id", "status", "task_name", "created_at", "start_time",
        "last_heartbeat", "last_modified", "heartbeat_timeout", "task_timeout", "max_retries",
        "retries", "priority", "metadata", "args", "cmd", "summary", "worker_id")
    assert fields.UPDATABLE_FIELDS == (
        "status", "task_name", "heartbeat_timeout", "task_timeout", "max_retries", "retries",
        "priority", "metadata", "args", "cmd", "summary")
    assert fields.READ_ONLY_FIELDS == (
        "task_id", "queue_id", "created_at", "start_time", "last_heartbeat", "last_modified",
        "worker_id")
    assert fields.NESTED_FIELDS == ("args", "metadata", "summary")
    assert fields.JSON_FIELDS == ("args", "metadata", "summary", "cmd")
    assert fields.TIME_FIELDS == ("created_at", "start_time", "last_heartbeat", "last_modified")
    assert set(fields.SUBMIT_FIELDS) == {
        "task_name", "args", "metadata", "cmd", "priority", "max_retries", "heartbeat_timeout",
        "task_timeout"}
    assert set(fields.SUBMIT_FIELDS) <= set(fields.UPDATABLE_FIELDS)
    assert fields.FACET_FIELDS == (
        "task_id", "status", "task_name", "heartbeat_timeout", "task_timeout", "max_retries",
        "retries", "priority", "worker_id")
    assert args.READ_ONLY_FIELDS == (*fields.READ_ONLY_FIELDS, "queue")
    # the filter compiler's plain fields (query: SCALAR_FIELDS) and their BSON types
    assert fields.SCALAR_TYPES == {
        "task_id": "string", "queue_id": "string", "status": "string", "task_name": "string",
        "created_at": "date", "start_time": "date", "last_heartbeat": "date",
        "last_modified": "date", "heartbeat_timeout": "double", "task_timeout": "int",
        "max_retries": "int", "retries": "int", "priority": "int", "worker_id": "string"}


def test_schema_columns_follow_the_table():
    cols = schema.tasks.c
    assert tuple(c.name for c in cols) == fields.TASK_COLUMNS
    for f in FIELDS:
        col = cols[f.column]
        assert col.nullable == f.nullable, f.name
        assert isinstance(col.type, schema.UTCDateTime) == (f.kind == "time"), f.name
        assert (col.type is schema.JSONDoc) == (f.name in fields.JSON_FIELDS), f.name
    assert schema.JSON_VALID_SQL.count("json_valid(") == len(fields.JSON_FIELDS)


def test_task_model_follows_the_table():
    model = Task.model_fields
    assert list(model) == [f.name for f in FIELDS]
    for f in FIELDS:
        assert model[f.name].annotation == f.type, f.name
        assert bool(model[f.name].exclude) == f.hidden, f.name
    assert list(Task.model_construct(**{
        f.name: f.new_value() for f in FIELDS}).record()) == list(fields.FIELD_ORDER)


def test_user_values_model_is_built_from_the_table():
    assert list(TaskFields.model_fields) == list(fields.UPDATABLE_FIELDS)
    # a read-only or hidden field is refused by name
    for name in (*fields.READ_ONLY_FIELDS, "version"):
        with pytest.raises(ValidationError) as err:
            validate_fields({name: None})
        assert validation_message(err.value) == f"{name}: unknown field"
    # the table's type checks a field without a narrower user type (cmd: str | list[str])
    with pytest.raises(ValidationError) as err:
        validate_fields({"cmd": {"a": 1}})
    assert validation_message(err.value).startswith("cmd.str: Input should be a valid string")
    # every document gets the document rules (dotted keys expanded)
    for name in fields.NESTED_FIELDS:
        assert validate_fields({name: {"a.b": 1}}) == {name: {"a": {"b": 1}}}


def test_rows_map_columns_and_fields_both_ways():
    # the only column spelled differently is queue_id's, and users never set it
    assert fields.COLUMN_ALIASES == {"queue": "queue_id"}
    assert all(f.column == f.name for f in FIELDS if f.updatable)
    row = rows.new_task_row({"args": {"lr": 0.1}, "task_name": "a"}, "q1", NOW)
    assert tuple(row) == fields.TASK_COLUMNS == rows.TASK_FIELDS
    # every default comes from the table; documents are fresh per row
    for f in FIELDS:
        if f.name not in ("task_id", "queue_id", "created_at", "last_modified", "args",
                          "task_name", "args_hash"):
            assert row[f.column] == f.default, f.name
    assert row["args_hash"] == args_hash({"lr": 0.1})
    other = rows.new_task_row({"args": {"lr": 0.2}}, "q1", NOW)
    assert row["summary"] is not other["summary"]

    task = rows.row_to_task(SimpleNamespace(_mapping=row))
    assert task.queue_id == "q1" and task.version == 1
    assert {f.name: getattr(task, f.name) for f in FIELDS} == {
        f.name: row[f.column] for f in FIELDS}

    imported = rows.import_row(
        {**task.record(), "worker_id": "w1", "version": 9, "retries": 2}, "elsewhere", NOW)
    assert tuple(imported) == fields.TASK_COLUMNS
    assert imported["queue"] == "q1" and imported["worker_id"] == "w1"
    assert imported["version"] == 1 and imported["retries"] == 2


def test_sqlite_parameters_convert_json_and_times_by_kind():
    row = rows.new_task_row({"args": {"lr": 0.1}, "cmd": ["a"]}, "q", NOW)
    params = dict(zip(fields.TASK_COLUMNS, rows.sqlite_params([row])[0], strict=True))
    for f in FIELDS:
        value = params[f.column]
        if f.name in fields.JSON_FIELDS:
            assert isinstance(value, str), f.name
        elif f.kind == "time" and row[f.column] is not None:
            assert value == "2026-03-04 12:00:00.000000", f.name
        else:
            assert value == row[f.column], f.name


def _task(**over) -> Task:
    base = {f.name: f.new_value() for f in FIELDS}
    base.update(task_id="0b0e3b8a-54d3-4d0e-9a49-2f4a3c1f9e11", created_at=NOW,
                last_modified=NOW, args={"lr": 0.1})
    base.update(over)
    return Task.model_construct(**base)


def test_editor_yaml_follows_the_table():
    text = dump_tasks([_task()])
    # top-level lines: "- task_id: ..." then "  status: ..."; nested values are indented more
    top = [ln[2:] for ln in text.splitlines() if ln[:2] in ("- ", "  ") and ln[2:3].strip()]
    keys = [ln.split(":", 1)[0] for ln in top]
    assert keys == list(fields.FIELD_ORDER)
    commented = [k for k, ln in zip(keys, top, strict=True) if ln.endswith(READ_ONLY_COMMENT)]
    assert commented == list(fields.READ_ONLY_FIELDS)
    assert list(yaml.safe_load(text)[0]) == list(fields.FIELD_ORDER)


def test_ls_table_columns_come_from_the_table():
    assert formats.TABLE_COLUMNS == ("ID", "NAME", "STATUS", "PRI", "ARGS", "CREATED")
    task = _task(task_name=None, priority=7, args={"lr": 0.1, "opt": {"m": 0.9}},
                 created_at=datetime(2026, 3, 4, 11, 55, tzinfo=UTC))
    assert formats.table_row(task, NOW) == [
        "0b0e3b8a", "-", "pending", "7", "lr=0.1 opt.m=0.9", "5m ago"]
    assert formats.table_row(_task(task_name="a\x1bb", status="failed"), NOW)[1:3] == [
        "a\\x1bb", "failed"]


def test_json_output_times_are_iso():
    rec = formats.task_dict(_task(start_time=NOW))
    assert [k for k in fields.TIME_FIELDS if isinstance(rec[k], str)] == [
        "created_at", "start_time", "last_modified"]
    assert rec["last_heartbeat"] is None


def test_nullable_comes_from_the_type():
    assert TaskField("x", int | None, "number").nullable
    assert not TaskField("x", str | list[str], "json").nullable
    doc = TaskField("d", dict, "document", default={})
    assert doc.new_value() == {} and doc.new_value() is not doc.new_value()
