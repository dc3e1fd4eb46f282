"""Which modules the headless commands load, in a fresh process: never Textual; and on SQLite
`count`, `ls -q`, `update`, `delete`, `ls` (table and the other formats, sort keys, views) and
`export` (a filter and a sort served from the compiled-filter cache) load neither SQLAlchemy,
nor pydantic, nor asyncio (the direct sqlite3 path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PARSER_AND_COMPILER = {f"labtasker_tui.query.{m}" for m in (
    "python_syntax", "mongo", "compiler", "sql", "dialects.sqlite_text", "dates")}
HEAVY = ("sqlalchemy", "pydantic", "asyncio", "aiosqlite", "textual")


def loaded_by(args: list[str], env: dict[str, str]) -> set[str]:
    code = ("import sys\n"
            f"sys.argv = ['labtasker-tui', *{args!r}]\n"
            "from labtasker_tui.cli.main import cli\n"
            "try:\n    cli(prog_name='labtasker-tui')\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    return set(out.stderr.split())


def tops(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods} & set(HEAVY)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("imports")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
    env.pop("LABTASKER_TUI_DB", None)
    db = tmp / "t.db"
    loaded_by(["--db", str(db), "submit", "-q", "--", "--lr", "0.1"], env)
    loaded_by(["--db", str(db), "view", "save", "best", "-f", "args.lr > 0", "-S",
               "-summary.acc", "--columns", "lr"], env)
    return db, env


FILTER = "args.lr > 0.01 and regex(args.model, 'a') or args.x in [1, 2]"


@pytest.mark.parametrize("cmd", [["count"], ["count", "-f", FILTER], ["ls", "-q"],
                                 ["ls", "-q", "-f", FILTER]], ids=" ".join)
def test_count_and_ids_on_sqlite_load_no_heavy_package(seeded, cmd):
    db, env = seeded
    loaded_by(["--db", str(db), *cmd], env)  # a new filter: compiled and cached
    mods = loaded_by(["--db", str(db), *cmd], env)
    assert "labtasker_tui.store.sqlite_direct" in mods  # the command really ran
    assert tops(mods) == set()
    assert not mods & PARSER_AND_COMPILER


@pytest.mark.parametrize("cmd", [
    ["ls", "--no-pager"], ["ls", "--limit", "100"], ["ls", "--no-pager", "-f", FILTER],
    ["ls", "--format", "jsonl", "-S", "-summary.acc,priority", "-f", FILTER],
    ["ls", "--format", "json"], ["ls", "--no-pager", "--columns", "lr,summary.acc"],
    ["ls", "--no-pager", "--view", "best"], ["ls", "-q", "-S", "-args.lr"],
    ["export"], ["export", "-f", FILTER],
], ids=" ".join)
def test_ls_and_export_on_sqlite_load_no_heavy_package(seeded, cmd):
    db, env = seeded
    loaded_by(["--db", str(db), *cmd], env)  # a new filter or sort: compiled and cached
    mods = loaded_by(["--db", str(db), *cmd], env)
    assert "labtasker_tui.store.sqlite_direct" in mods  # the command really ran
    assert tops(mods) == set()
    assert not mods & PARSER_AND_COMPILER
    assert "labtasker_tui.models" not in mods


def test_a_new_filter_compiles_with_sqlalchemy_core_only(seeded):
    db, env = seeded
    mods = loaded_by(["--db", str(db), "count", "-f", "args.never_seen_before > 1"], env)
    assert "sqlalchemy.sql.compiler" in mods
    assert "textual" not in tops(mods)
    assert not any(m.startswith("sqlalchemy.ext.asyncio") for m in mods)  # no async engine
    assert not tops(mods) & {"aiosqlite", "pydantic"}


@pytest.mark.parametrize("extra", [[], ["--dedup", "skip"], ["--name", "g-1", "--priority",
                                                              "3", "--task-timeout", "60"]],
                         ids=["plain", "dedup", "options"])
def test_submit_loads_no_heavy_package(seeded, extra):
    """One task through the direct path: no Textual, no engine, and no pydantic (the spec is
    checked by plain_checks; the duplicate check by canonical and store.dedup)."""
    db, env = seeded
    mods = loaded_by(["--db", str(db), "submit", "-q", *extra, "--", "--lr", "0.2"], env)
    assert "labtasker_tui.cli.submit_cmd" in mods
    assert "labtasker_tui.store.sqlite_direct" in mods  # the direct path really ran
    assert tops(mods) == set()



def test_update_and_delete_on_sqlite_load_no_heavy_package(seeded, tmp_path):
    """update -f (its filter served from the cache) and delete by ids: the direct writes."""
    import shutil
    import sqlite3

    src, env = seeded
    db = tmp_path / "w.db"
    shutil.copy(src, db)
    update = ["--db", str(db), "update", "-f", "args.lr > 0.01 and args.lr < 1", "-u",
              "priority=3", "-u", "args.note=x", "-y", "-q"]
    loaded_by(update, env)  # the filter compiled and cached
    mods = loaded_by(update, env)
    assert "labtasker_tui.store.sqlite_direct_writes" in mods  # the command really ran
    assert tops(mods) == set()
    assert not mods & PARSER_AND_COMPILER
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT task_id FROM tasks")]
    assert con.execute("SELECT count(*) FROM journal WHERE kind = 'update'").fetchone() == (1,)
    con.close()
    mods = loaded_by(["--db", str(db), "delete", "-y", "-q", *ids], env)
    assert "labtasker_tui.store.sqlite_direct_writes" in mods
    assert tops(mods) == set()
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
    con.close()


def test_a_bad_submit_still_words_the_models_error(seeded):
    """The doubtful value goes to the model: its message, exit 2, nothing written."""
    db, env = seeded
    code = ("import sys\n"
            "sys.argv = ['labtasker-tui', '--db', sys.argv[1], 'submit', '--task-timeout',"
            " '0', '--', '--lr', '0.3']\n"
            "from labtasker_tui.cli.main import cli\n"
            "cli(prog_name='labtasker-tui')\n")
    out = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 2
    assert "task_timeout: Input should be greater than 0" in out.stderr
