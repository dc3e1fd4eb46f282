"""One sort syntax (labtasker_tui/sorting.py) for `ls -S`, saved views and the app's `S`:
`-summary.acc` and `summary.acc:desc` both; unknown or malformed paths are rejected (exit 2,
caret display, nothing stored); a path no listed task has gets a warning."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.sorting import SortError, parse_sort_options, parse_sort_text, sort_spec


@pytest.mark.parametrize("text, keys", [
    ("-summary.acc", [("summary.acc", True)]),
    ("summary.acc:desc", [("summary.acc", True)]),
    ("+priority, args.opt.lr:asc", [("priority", False), ("args.opt.lr", False)]),
    ("created_at -metadata.rank", [("created_at", False), ("metadata.rank", True)]),
    ("", []),
])
def test_both_spellings(text, keys):
    assert parse_sort_text(text) == keys
    assert parse_sort_text(sort_spec(keys)) == keys


@pytest.mark.parametrize("text, message, column", [
    ("sumary.acc:desc", "unknown sort field 'sumary'. Maybe you meant 'summary'?", 1),
    ("priority, foo..bar", "malformed sort path 'foo..bar': an empty segment", 15),
    ("args.lr:up", "invalid order 'up'", 9),
    ("-args.lr:desc", "gives the order twice", 1),
    ("lr", "Maybe you meant 'args.lr'?", 1),
    ("priority.x", "'priority' has no sub-fields", 9),
    ("args.", "an empty segment", 6),
])
def test_rejected(text, message, column):
    with pytest.raises(SortError) as info:
        parse_sort_text(text)
    assert message in info.value.message and info.value.column == column
    assert "Error when parsing sort" in info.value.render()


@pytest.fixture
def lt(sqlite_url):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--db", sqlite_url, *args], input=input,
                             catch_exceptions=False)

    specs = [{"task_name": f"t{i}", "args": {"lr": lr}, "summary": {"acc": acc}}
             for i, (lr, acc) in enumerate([(0.1, 0.5), (0.2, 0.9), (0.3, 0.7)])]
    res = invoke("import", "-", input="\n".join(json.dumps(s) for s in specs))
    assert res.exit_code == 0, res.output
    return invoke


def _names(res) -> list[str]:
    assert res.exit_code == 0, res.output
    return [json.loads(x)["task_name"] for x in res.stdout.splitlines()]


def test_cli_sorts_with_either_spelling(lt):
    a = _names(lt("ls", "--format", "jsonl", "-S", "-summary.acc"))
    b = _names(lt("ls", "--format", "jsonl", "-S", "summary.acc:desc"))
    assert a == b == ["t1", "t2", "t0"]
    assert _names(lt("ls", "--format", "jsonl", "-S", "args.lr:desc,priority")) == \
        ["t2", "t1", "t0"]


def test_cli_rejects_unknown_sort_once(lt):
    res = lt("ls", "--no-pager", "-S", "sumary.acc:desc")
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.count("unknown sort field 'sumary'") == 1
    assert "Error when parsing sort" in res.stderr and "^" in res.stderr
    assert "Error: Invalid sort: unknown sort field" in res.stderr


def test_cli_warns_when_no_task_has_the_path(lt):
    res = lt("ls", "--format", "jsonl", "-S", "summary.loss:desc")
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 3
    assert "no listed task has summary.loss" in res.stderr


def test_views_use_the_same_syntax(lt, sqlite_url):
    res = lt("view", "save", "bad", "-S", "foo..bar")
    assert res.exit_code == 2 and "malformed sort path" in res.stderr
    path = sqlite_url.split("///", 1)[1]
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM views").fetchone() == (0,)
    assert lt("view", "save", "best", "-S", "-summary.acc").exit_code == 0
    assert _names(lt("ls", "--view", "best", "--format", "jsonl")) == ["t1", "t2", "t0"]
    assert json.loads(lt("view", "ls", "--format", "json").stdout)[0]["sort"] == \
        ["summary.acc:desc"]


def test_options_accumulate():
    assert parse_sort_options(("-a.b".replace("a", "args"), "priority:desc")) == \
        [("args.b", True), ("priority", True)]


@pytest.mark.asyncio
async def test_app_sort_prompt_uses_the_parser(tmp_path):
    from textual.widgets import Input

    from labtasker_tui.store.task_store import open_store
    from labtasker_tui.tui.app import LabtaskerApp

    url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
    store = open_store(url)
    await store.submit([{"args": {"lr": lr}} for lr in (0.1, 0.3, 0.2)])
    await store.close()
    app = LabtaskerApp(url, live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        screen = app.screen
        before = list(screen.sort)
        await pilot.press("S")
        await pilot.pause()
        app.screen.query_one(Input).value = "foo..bar"
        await pilot.press("enter")
        await pilot.pause()
        assert screen.sort == before
        assert any("malformed sort path" in str(n.message) for n in app._notifications)
        await pilot.press("S")
        await pilot.pause()
        app.screen.query_one(Input).value = "args.lr:desc"
        await pilot.press("enter")
        for _ in range(20):
            await pilot.pause()
        assert screen.sort == [("args.lr", True)]
        assert [t.args["lr"] for t in screen.tasks] == [0.3, 0.2, 0.1]


# -- filter errors share the caret display: printed once, no Python internals ----------------


@pytest.mark.parametrize("text, message, column", [
    ("args.x >", "Query syntax error: the filter ends too early", 9),
    ("args.x == (1", "Query syntax error: '(' was never closed", 11),
    ("args.x === 1", "Query syntax error: invalid syntax", 10),
    ('{"args.x": {"$foo": 1}}', "unsupported operator '$foo' at args.x", 13),
    ('{"args.x": 1', "Invalid JSON filter: Expecting ',' delimiter", 13),
])
@pytest.mark.parametrize("command", [("ls", "--no-pager"), ("count",), ("delete", "-y")])
def test_filter_errors_print_once(lt, text, message, column, command):
    before = lt("export").stdout
    res = lt(*command, "-f", text)
    assert res.exit_code == 2 and res.stdout == ""
    err = res.stderr
    assert "<unknown>" not in err and "Traceback" not in err
    assert err.count(message) == 1 and err.count("Error:") == 1
    assert f"Error here (Column: {column})" in err
    assert err.rstrip().endswith(message) or message in err.splitlines()[-1]
    assert lt("export").stdout == before
