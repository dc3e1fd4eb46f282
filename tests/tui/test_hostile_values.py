"""The app shows hostile values inert: escape sequences, CR, backspace and bidi overrides
escaped, Rich markup shown as typed (no MarkupError), in the table and the detail pane."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from labtasker_tui.tui.widgets.detail_pane import DetailPane
from labtasker_tui.tui.widgets.task_table import TaskTable

from .conftest import make_app, settle
from .seed import task_uuid

EVIL = "\x1b]0;pwned\x07\x1b[2J\rX\x08\u202eY\x9b[bold]Z[/]"
EVIL_KEY = "k\x1b[31m\u202e"
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.asyncio
async def test_table_and_detail_pane_show_hostile_values_inert(db_url):
    target = task_uuid(1)
    path = db_url.split("///", 1)[1]
    con = sqlite3.connect(path)
    con.execute("UPDATE tasks SET args = ?, metadata = ?, summary = ?, cmd = ?,"
                " priority = 999, status = 'success' WHERE task_id = ?",
                (json.dumps({EVIL_KEY: 1, "evil": EVIL}), json.dumps({EVIL_KEY: [EVIL]}),
                 json.dumps({"[/]note": EVIL}), json.dumps(EVIL), target))
    con.commit()
    con.close()
    app = make_app(db_url)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(TaskTable)
        assert table.cursor_task_id == target
        cells = [c.plain if hasattr(c, "plain") else str(c) for c in table.get_row(target)]
        joined = " ".join(cells)
        assert not CONTROL.search(joined), joined
        assert "k\\x1b[31m\\u202e=1 evil=\\x1b]0;pwned\\x07" in joined
        assert "[/]note=" in joined  # markup shown as typed
        app.screen.action_toggle_detail()
        await settle(app, pilot)
        pane = app.screen.query_one(DetailPane)
        assert pane.display and pane.task_id == target
        assert not CONTROL.search(pane.text), pane.text
        assert "\\u202e" in pane.text and "pwned" in pane.text
        svg = app.export_screenshot()  # the whole screen renders
        assert "\x1b" not in svg and "pwned" in svg
