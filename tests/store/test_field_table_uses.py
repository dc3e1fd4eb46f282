"""The store reads the field table (labtasker_tui.fields) instead of spelling field lists: a
field added there is faceted, refused as a date, indexed, walked and journaled here."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labtasker_tui import fields
from labtasker_tui.models import Task
from labtasker_tui.store import facet_summary, facets, indexes, journal, rows, store_core
from labtasker_tui.store.facet_summary import FacetError, parse_facet_path


def test_facetable_columns_are_the_tables():
    assert list(facet_summary.COLUMN_FACETS) == list(fields.FACET_FIELDS)
    for name, column in facet_summary.COLUMN_FACETS.items():
        assert column == fields.BY_NAME[name].column
        assert parse_facet_path(name) == (name,)
    # the suggested columns are a choice among them, status first
    assert set(facets.SUGGESTED_COLUMNS) <= set(fields.FACET_FIELDS)
    assert facets.SUGGESTED_COLUMNS[0] == "status"


@pytest.mark.parametrize("name", fields.TIME_FIELDS)
def test_every_time_field_is_refused_as_a_facet(name):
    with pytest.raises(FacetError, match="every timestamp is distinct"):
        parse_facet_path(name)


def test_json_roots_are_the_json_fields():
    for name in fields.JSON_FIELDS:
        assert parse_facet_path(f"{name}.k") == (name, "k")
        assert indexes.parse_path(f"{name}.k") == (name, "k")
    with pytest.raises(FacetError) as err:
        parse_facet_path("nope.k")
    # the message names every root a path may start with
    for name in (*fields.JSON_FIELDS, *fields.FACET_FIELDS):
        assert name in str(err.value)
    with pytest.raises(ValueError, match=", ".join(fields.JSON_FIELDS)):
        indexes.parse_path("status.k")


def test_journal_image_of_a_task_has_every_column():
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    values = {f.name: f.new_value() for f in fields.FIELDS}
    values.update(task_id="t1", created_at=now, last_modified=now, start_time=now)
    image = journal.row_of_image(journal.image_of_task(Task.model_construct(**values)))
    assert list(image) == list(fields.TASK_COLUMNS) == list(rows.TASK_FIELDS)
    assert image["queue"] == "default" and image["start_time"] == now
    assert image["last_heartbeat"] is None and image["args"] == {}


def test_task_columns_read_every_field():
    assert {c.name for c in store_core.TASK_COLUMNS} == set(fields.TASK_COLUMNS)
