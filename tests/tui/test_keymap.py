"""The action registry and the user's keymap: a remap works in the app, in the help screen
and in `labtasker-tui keys` (which never loads Textual); a bad keymap file is one message,
and the defaults apply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Button
from textual.widgets._footer import FooterKey

from labtasker_tui.store.task_store import open_store
from labtasker_tui.tui.actions import ACTIONS, BY_ID, SCOPES, in_scope, split_keys
from labtasker_tui.tui.commands import TaskCommands
from labtasker_tui.tui.keymap import keymap_path, load_keymap
from labtasker_tui.tui.screens.confirm import ConfirmModal
from labtasker_tui.tui.screens.help import HelpScreen
from labtasker_tui.tui.screens.task_list import TaskListScreen

from .conftest import make_app, settle


def write_keymap(text: str) -> Path:
    path = keymap_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_registry_ids_are_unique_and_keys_do_not_clash_within_a_scope():
    assert len(BY_ID) == len(ACTIONS)
    for scope in SCOPES:
        keys = [k for spec in in_scope(scope) for k in split_keys(spec.keys)]
        assert len(keys) == len(set(keys)), scope


def test_every_task_list_action_has_a_method():
    for spec in in_scope("task_list"):
        name = spec.action.split("(")[0]
        if not name.startswith("app."):
            assert hasattr(TaskListScreen, f"action_{name}"), spec.id


def test_every_scope_has_one_owner_with_a_method_for_each_action():
    from labtasker_tui.tui.app import LabtaskerApp
    from labtasker_tui.tui.screens.columns import ColumnPicker
    from labtasker_tui.tui.screens.editor import DiffModal, EditorScreen
    from labtasker_tui.tui.screens.filter_screen import FilterScreen
    from labtasker_tui.tui.screens.log_screen import LogScreen
    from labtasker_tui.tui.screens.prompt import PromptModal
    from labtasker_tui.tui.screens.results import ResultsScreen
    from labtasker_tui.tui.screens.submit import SubmitScreen
    from labtasker_tui.tui.widgets.filter_bar import FilterInput
    from labtasker_tui.tui.widgets.view_picker import ViewPicker

    owners = {"app": LabtaskerApp}
    for cls in (TaskListScreen, FilterScreen, EditorScreen, LogScreen, ColumnPicker,
                SubmitScreen, FilterInput, ConfirmModal, DiffModal, PromptModal, ViewPicker,
                HelpScreen, ResultsScreen):
        owners[cls.ACTION_SCOPE] = cls
    assert set(owners) == set(SCOPES)
    for scope, cls in owners.items():
        ids = {b.id for b in cls.BINDINGS}
        assert ids == {spec.id for spec in in_scope(scope)}, scope  # derived, none literal
        for spec in in_scope(scope):
            name = spec.action.split("(")[0]
            owner = LabtaskerApp if name.startswith("app.") else cls
            assert hasattr(owner, f"action_{name.removeprefix('app.')}"), spec.id


def test_keymap_file_entries(tmp_path):
    path = tmp_path / "keymap.toml"
    path.write_text('[keymap]\ndelete = "D"\n"filter.apply" = ["ctrl+s", "f9"]\n'
                    'dlete = "z"\nreset = ""\ncancel = 3\n')
    keymap = load_keymap(path)
    assert keymap.overrides == {"task_list.delete": "D", "filter.apply": "ctrl+s,f9"}
    text = keymap.message()
    assert text is not None and str(path) in text
    assert "line 4: unknown action 'dlete'" in text
    assert "line 5: reset" in text and "line 6: cancel" in text


def test_keymap_file_that_is_not_toml(tmp_path):
    path = tmp_path / "keymap.toml"
    path.write_text('[keymap]\ndelete = "D\n')
    keymap = load_keymap(path)
    assert keymap.overrides == {}
    assert "not valid TOML" in keymap.message() and "line 2" in keymap.message()
    assert load_keymap(tmp_path / "absent.toml").message() is None


@pytest.mark.asyncio
async def test_a_remapped_key_runs_the_action_and_the_old_one_does_not(db_url):
    write_keymap('[keymap]\ndelete = "D"\n')
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert not app._notifications  # a good file says nothing
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)  # x no longer deletes
        footer = {k.description: k.key for k in app.screen.query(FooterKey)}
        assert footer["Delete"] == "D"
        palette = {action: text for action, _title, text in TaskCommands(app.screen).commands()}
        assert palette["delete"] == "delete (asks first)  \\[D]"  # markup-escaped
        await pilot.press("D")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal) and "Delete" in app.screen.message
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = [str(w.render()) for w in app.screen.query(".help-row")]
        assert any(row.split()[0] == "D" and "delete (asks first)" in row for row in rows)


async def stored(url: str, task_id: str) -> bool:
    store = open_store(url)
    try:
        return await store.get(task_id) is not None
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_x_remapped_to_D_deletes_with_D_and_not_with_x(db_url):
    write_keymap('[keymap]\ndelete = "D"\n')
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        task_id = app.screen.table.cursor_task_id
        assert task_id is not None
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)  # no dialog: x is no longer delete
        assert await stored(db_url, task_id)
        await pilot.press("D", "y")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)
        assert not await stored(db_url, task_id)  # D deleted it


@pytest.mark.asyncio
async def test_dialog_and_help_keys_are_remapped_too(db_url):
    write_keymap('[keymap]\n"confirm.yes" = "o"\n"help.close" = "z"\n')
    app = make_app(db_url)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        task_id = app.screen.table.cursor_task_id
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert str(app.screen.query_one("#confirm-yes", Button).label) == "Delete (o)"
        await pilot.press("y")  # no longer an answer
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal) and await stored(db_url, task_id)
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen) and not await stored(db_url, task_id)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        rows = [str(w.render()) for w in app.screen.query(".help-row")]
        assert any(row.split()[0] == "z" and "help screen: close" in row for row in rows)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("z")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskListScreen)


@pytest.mark.asyncio
async def test_a_bad_keymap_file_is_one_message_and_the_defaults_apply(db_url):
    path = write_keymap('[keymap]\ndelete = "D"\nfrobnicate = "z"\n')
    app = make_app(db_url)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        notes = [n for n in app._notifications if n.title == "Keymap"]
        assert len(notes) == 1
        assert str(path) in notes[0].message and "line 3" in notes[0].message
        assert "frobnicate" in notes[0].message
        await pilot.press("D")  # the good entry still applies
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
    write_keymap("[keymap\ndelete = 'D'\n")  # not TOML at all: every default applies
    app = make_app(db_url)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        notes = [n for n in app._notifications if n.title == "Keymap"]
        assert len(notes) == 1 and "not valid TOML" in notes[0].message
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)


def test_keys_prints_the_effective_map_without_textual(tmp_path):
    config = tmp_path / "config"
    (config / "labtasker-tui").mkdir(parents=True)
    (config / "labtasker-tui" / "keymap.toml").write_text('[keymap]\ndelete = "D"\n')
    code = ("import sys\nsys.argv = ['labtasker-tui', 'keys']\n"
            "from labtasker_tui.cli.main import cli\n"
            "try:\n    cli(prog_name='labtasker-tui')\nexcept SystemExit:\n    pass\n"
            "print('TEXTUAL' if any(m.split('.')[0] == 'textual' for m in sys.modules)"
            " else 'NO-TEXTUAL')\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(config)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.rstrip().endswith("NO-TEXTUAL")
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:-1]}
    assert lines["task_list.delete*"][1:3] == ["D", "task_list"]
    assert lines["task_list.reset"][1:3] == ["r", "task_list"]  # not remapped: no star
    assert str(config / "labtasker-tui" / "keymap.toml") in out.splitlines()[0]


def test_keys_markdown_is_the_help_screens_table():
    from click.testing import CliRunner

    from labtasker_tui.cli.main import cli

    out = CliRunner().invoke(cli, ["keys", "--markdown"]).output
    assert out.startswith("| keys | what |\n| --- | --- |\n| **Move** | |\n")
    assert "| `x / delete` | delete (asks first) |" in out
    assert "| `? / f1` | this help |" not in out and "| `f1 / ?` | this help |" in out
    assert "| **Filter screen (f)** | |" in out and "| `f7` |" in out
