"""The program's fast entry (cli/fast_path.py) against the click commands, in real processes:
the same output, stderr and exit code for every spelling it takes and every one it hands
to click; and on a cache hit it loads no click (nor SQLAlchemy, pydantic, asyncio)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY = "from labtasker_tui.cli.entry import main; main()"
CLICK = "from labtasker_tui.cli.main import main; main()"
MODULES = ("import atexit, sys\n"
           "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sys.modules)))\n")


def program(code: str, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("fast")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
    env.pop("LABTASKER_TUI_DB", None)
    env.pop("LABTASKER_TUI_QUEUE", None)
    db = tmp / "t.db"
    # fixed old times: "2000d ago" does not tick between the two runs compared
    specs = "".join(json.dumps({"task_name": f"n{i}", "args": {"lr": i / 10, "m": "ab"[i % 2]},
                                "priority": i % 3,
                                "created_at": f"2020-01-01T00:00:{i:02d}+00:00"}) + "\n"
                    for i in range(30))
    (tmp / "specs.jsonl").write_text(specs)
    for args in (["import", str(tmp / "specs.jsonl"), "-q"],
                 ["--queue", "other", "submit", "-q", "--", "--lr", "9"],
                 ["view", "save", "top", "-f", "args.lr > 0.5", "-S", "-args.lr"]):
        code, out, err = program(CLICK, env, "--db", str(db), *args)
        assert code == 0, err
    return db, env


F = "args.lr > 0.25"
TAKEN = [
    ["count"], ["count", "--format=json", "-f", F, "-f", "args.lr > 0.5"],
    ["count", "-s", "pending", "--name", "n3"], ["--queue=other", "ls", "-q"],
    ["ls", "-q", "-f", F, "--limit", "5"], ["ls", "--quiet", "--offset=3", "-S", "-args.lr"],
    ["ls", "--limit", "100"], ["ls", "--format", "jsonl", "-f", F, "-S", "priority"],
    ["ls", "--format", "yaml", "--limit", "2"], ["ls", "--format", "json", "--view", "top"],
    ["ls", "--no-pager", "--columns", "lr,m", "-S", "args.m", "-S", "-args.lr"],
    ["export", "-f", F], ["--queue", "other", "export", "--task-name", "n4"],
]
HANDED_TO_CLICK = [
    ["count", "-s", "nope"], ["count", "--format", "xml"], ["count", "-f", "args.lr >"],
    ["ls", "-q", "--limit", "-1"], ["ls", "-qv"], ["ls", "--bogus"],
    ["ls", "-q", "--id", "abcd"], ["ls", "--no-pager", "--view", "nope"],
    ["ls", "--no-pager", "-S", "args..x"], ["count", "--help"],
    ["--queue", "bad queue!", "count"], ["count", "-f"], ["ls", "-q", "extra"],
]


@pytest.mark.parametrize("cmd", TAKEN + HANDED_TO_CLICK, ids=" ".join)
def test_the_fast_entry_says_what_click_says(seeded, cmd):
    db, env = seeded
    args = ["--db", str(db), *cmd]
    want = program(CLICK, env, *args)  # (a new filter or sort is compiled and cached here)
    assert program(ENTRY, env, *args) == want
    assert want[0] == 0 or cmd in HANDED_TO_CLICK, want


def test_a_missing_database_is_clicks_error(seeded, tmp_path):
    _, env = seeded
    for cmd in (["count"], ["ls", "-q"], ["export"]):
        args = ["--db", str(tmp_path / "none.db"), *cmd]
        got = program(ENTRY, env, *args)
        assert got == program(CLICK, env, *args) and got[0] == 2
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("cmd", [TAKEN[i] for i in (0, 1, 4, 6, 7, 11)], ids=" ".join)
def test_on_a_cache_hit_no_click_is_loaded(seeded, cmd):
    db, env = seeded
    program(CLICK, env, "--db", str(db), *cmd)  # cached
    code, _, err = program(MODULES + ENTRY, env, "--db", str(db), *cmd)
    assert code == 0, err
    mods = set(err.rsplit("MODULES ", 1)[1].split())
    assert "labtasker_tui.cli.fast_path" in mods
    heavy = {m.split(".")[0] for m in mods} & {"click", "sqlalchemy", "pydantic", "asyncio",
                                               "textual"}
    assert heavy == set()


def test_ctrl_c_ends_a_fast_read_at_once(seeded):
    """The fast entry installs the same Ctrl-C handling as the click commands: one line on
    stderr, exit 130, even while the main thread is busy inside the read."""
    import signal
    import time

    db, env = seeded
    slow = ("import time\nfrom labtasker_tui.store import sqlite_direct_reads as r\n"
            "r.decode_row = lambda row: time.sleep(60)\n" + ENTRY)
    proc = subprocess.Popen([sys.executable, "-c", slow, "--db", str(db), "export"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(2.0)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert (proc.returncode, err) == (130, "Interrupted.\n")
