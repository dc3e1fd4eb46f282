"""Values that enter the store: non-finite numbers, malformed old rows, PostgreSQL float types.

Policy: NaN/±Infinity are refused (exit 2, nothing written) at every entry except the job API,
which records them as the strings "NaN"/"Infinity"/"-Infinity". A row already malformed (an
older version, a hand-written UPDATE) is repaired by the v2 migration and can no longer be
written on SQLite (a json_valid CHECK constraint); it never stops claims, listings or export
of the other tasks.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from conftest import cli, sqlite_rows

from labtasker_tui.settings import SCHEMA_VERSION

NONFINITE_JOB = (
    "from labtasker_tui import report\n"
    "report(summary={'loss': float('nan'), 'hi': float('inf'), 'lo': float('-inf'),"
    " 'deep': {'x': [float('nan'), 1.5]}, 'ok': -0.0})\n"
)


def _export(db: str, queue: str) -> list[dict]:
    res = cli(db, "export", queue=queue)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def test_nonfinite_refused_at_every_entry_nothing_written(fault_url, fault_queue, tmp_path):
    q = fault_queue
    res = cli(fault_url, "submit", "-q", "--", "--x", "nan", "--y", "inf", "--z", "1", queue=q)
    assert res.returncode == 0, res.stderr
    task_id = res.stdout.strip()
    before = _export(fault_url, q)
    assert before[0]["args"] == {"x": "nan", "y": "inf", "z": 1}  # tokens stay strings

    bad_file = tmp_path / "specs.jsonl"
    bad_file.write_text('{"args": {"a": 1}}\n\n{"args": {"lr": NaN}}\n')
    bad_import = tmp_path / "records.jsonl"
    bad_import.write_text('{"args": {"a": 1}}\n{"args": {"a": 2}, "summary": {"s": -Infinity}}\n')
    attempts = [
        (("submit", "--args", '{"lr": NaN}'), "args.lr"),
        (("submit", "--args", '{"lr": 1e400}'), "args.lr"),
        (("submit", "--metadata", '{"m": Infinity}', "--", "--a", "1"), "metadata.m"),
        (("submit", "--", "--lr", "1e400"), "--lr"),
        (("submit", "--heartbeat-timeout", "nan", "--", "--a", "1"), "heartbeat_timeout"),
        (("submit", "--file", str(bad_file)), "line 3: args.lr"),
        (("import", str(bad_import)), "line 2"),
        (("update", "--id", task_id, "-y", "-u", "args.z=1e400"), "args.z"),
        (("update", "--id", task_id, "-y", "-u", "summary={'v': float('nan')}"), "summary"),
        (("update", "--id", task_id, "-y", "-u", "heartbeat_timeout=float('inf')"),
         "heartbeat_timeout"),
    ]
    for argv, where in attempts:
        res = cli(fault_url, *argv, queue=q)
        assert res.returncode == 2, (argv, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr and where in res.stderr, (argv, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert _export(fault_url, q) == before


def test_job_api_records_nonfinite_as_strings(fault_url, fault_queue, tmp_path):
    q = fault_queue
    assert cli(fault_url, "submit", "--", "--i", "1", queue=q).returncode == 0
    assert cli(fault_url, "submit", "--", "--i", "2", queue=q).returncode == 0
    job = tmp_path / "job.py"
    job.write_text(NONFINITE_JOB)
    res = cli(fault_url, "loop", "--", sys.executable, str(job), "%(i)", queue=q, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    tasks = _export(fault_url, q)
    assert [t["status"] for t in tasks] == ["success", "success"], res.stderr
    for t in tasks:
        assert t["summary"] == {"loss": "NaN", "hi": "Infinity", "lo": "-Infinity",
                                "deep": {"x": ["NaN", 1.5]}, "ok": 0.0}
    # the stored text is JSON: a filter on the column works, and re-import round-trips
    res = cli(fault_url, "ls", "-q", "-f", "summary.loss == 'NaN'", queue=q)
    assert res.returncode == 0 and len(res.stdout.split()) == 2, res.stderr


def _old_database(path: Path) -> None:
    """A v1 database as the previous version left it: no json_valid CHECK, NaN text or worse in
    JSON columns, and an expression index such as `labtasker-tui index` makes."""
    con = sqlite3.connect(path, isolation_level=None)
    table = con.execute("SELECT sql FROM sqlite_master WHERE name = 'tasks'").fetchone()[0]
    indexes = [r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE type = 'index'"
                                         " AND tbl_name = 'tasks' AND sql IS NOT NULL")]
    v1_table = table[:table.index(", \n\tCONSTRAINT tasks_json_valid")] + "\n)"
    con.executescript(
        f"BEGIN; {v1_table.replace('CREATE TABLE tasks', 'CREATE TABLE old')};"
        "INSERT INTO old SELECT * FROM tasks; DROP TABLE tasks; ALTER TABLE old RENAME TO tasks;"
        + "".join(f"{sql};" for sql in indexes)
        + "CREATE INDEX ix_user_cmd ON tasks (json_extract(cmd, '$[0]'));"
        "UPDATE schema_info SET value = '1' WHERE key = 'schema_version'; COMMIT;")
    assert "CHECK" not in con.execute("SELECT sql FROM sqlite_master WHERE name = 'tasks'"
                                      ).fetchone()[0]
    rows = con.execute("SELECT task_id, args FROM tasks ORDER BY priority DESC").fetchall()
    bad = {  # what older versions (or a hand-written UPDATE) stored
        rows[0][0]: ("summary", '{"loss": NaN, "best": -Infinity}'),
        rows[1][0]: ("metadata", '{"m": Infinity'),  # not JSON at all
        rows[2][0]: ("args", b'{"i": 3, "x": "\xff"'),  # not UTF-8 and not JSON
    }
    for task_id, (col, text) in bad.items():
        con.execute(f"UPDATE tasks SET {col} = ? WHERE task_id = ?", (text, task_id))
    con.close()


def test_malformed_old_rows_never_stop_the_queue(sqlite_db, tmp_path):
    db = str(sqlite_db)
    for i in range(6):
        res = cli(db, "submit", "--priority", str(20 - i), "--", "--i", str(i))
        assert res.returncode == 0, res.stderr
    _old_database(sqlite_db)
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM tasks WHERE NOT json_valid(summary)"
                       " OR NOT json_valid(metadata) OR NOT json_valid(args)") == [(3,)]

    res = cli(db, "ls", "--format", "jsonl")  # migrates to v2 (repairs the rows), then v3, v4
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("labtasker-tui: upgrading the database schema from v1 to v"
                                 f"{SCHEMA_VERSION} (once;")  # said before the wait, not after
    listed = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(listed) == 6
    assert sqlite_rows(sqlite_db, "SELECT value FROM schema_info") == [(str(SCHEMA_VERSION),)]
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM tasks WHERE args_hash IS NULL") == [(0,)]
    assert listed[0]["summary"] == {"loss": "NaN", "best": "-Infinity"}
    assert listed[1]["metadata"] == {"labtasker_malformed": '{"m": Infinity'}
    assert listed[2]["args"] == {"labtasker_malformed": '{"i": 3, "x": "\ufffd"'}
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM tasks WHERE NOT (json_valid(summary)"
                       " AND json_valid(metadata) AND json_valid(args))") == [(0,)]
    names = {r[0] for r in sqlite_rows(sqlite_db, "SELECT name FROM sqlite_master"
                                       " WHERE tbl_name = 'tasks' AND type = 'index'")}
    assert {"ix_user_cmd", "ix_tasks_fetch_order", "ix_tasks_name"} <= names

    res = cli(db, "count", "--format", "json")
    assert res.returncode == 0 and json.loads(res.stdout)["total"] == 6, res.stderr
    res = cli(db, "ls", "-q", "-f", "args.i >= 4")
    assert res.returncode == 0 and len(res.stdout.split()) == 2, res.stderr
    res = cli(db, "ls", "-q", "-S", "summary.loss:desc", "-S", "args.i:asc")
    assert res.returncode == 0 and len(res.stdout.split()) == 6, res.stderr
    res = cli(db, "export")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 6, res.stderr
    for path in ("summary.loss", "args.i"):
        res = cli(db, "facets", path)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr

    # every task that has `i` is claimed and run; the one whose args were destroyed is not
    res = cli(db, "loop", "--", "true", "%(i)", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    status = dict(sqlite_rows(sqlite_db, "SELECT json_extract(args, '$.i'), status FROM tasks"))
    assert status == {0: "success", 1: "success", None: "pending", 3: "success",
                      4: "success", 5: "success"}

    # after v2, SQLite itself refuses a hand-written bad JSON value
    con = sqlite3.connect(sqlite_db)
    with pytest.raises(sqlite3.IntegrityError, match="tasks_json_valid"):
        con.execute("UPDATE tasks SET args = '{\"x\": NaN}'")
    con.close()
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM tasks WHERE args LIKE '%NaN%'") == [(0,)]


def test_reader_tolerates_bad_rows_written_past_the_check(sqlite_db):
    """Even with the CHECK bypassed by hand, a listing and an export of every task finish."""
    db = str(sqlite_db)
    for i in range(3):
        assert cli(db, "submit", "--", "--i", str(i)).returncode == 0
    con = sqlite3.connect(sqlite_db)
    con.executescript("PRAGMA ignore_check_constraints = ON;"
                      "UPDATE tasks SET summary = '{\"a\": NaN}' WHERE args = '{\"i\": 0}';"
                      "UPDATE tasks SET cmd = 'oops' WHERE args = '{\"i\": 1}';"
                      "UPDATE tasks SET metadata = '{\"s\": \"\\ud800\"}'"
                      " WHERE args = '{\"i\": 2}';")
    con.close()
    res = cli(db, "ls", "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    by_i = {t["args"]["i"]: t for t in map(json.loads, res.stdout.splitlines())}
    assert by_i[0]["summary"] == {"a": "NaN"}
    assert by_i[1]["cmd"] == {"labtasker_malformed": "oops"}
    res = cli(db, "export")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert len(res.stdout.splitlines()) == 3
    assert json.loads(res.stdout.splitlines()[-1])


VALUES = {"lr": "1e20", "big": "1.5e300", "edge": "1e16", "small": "0.1", "neg0": "-0.0",
          "imax": str(2**63 - 1), "nbig": "-1e20", "tiny": "1e-300"}
EXPECTED = {"lr": 1e20, "big": 1.5e300, "edge": 1e16, "small": 0.1, "neg0": 0.0,
            "imax": 2**63 - 1, "nbig": -1e20, "tiny": 1e-300}


def _same_types(got: dict) -> None:
    assert got == EXPECTED
    for key, want in EXPECTED.items():
        assert type(got[key]) is type(want), (key, got[key])


def test_values_keep_type_and_value_on_both_backends(fault_url, fault_queue, tmp_path):
    q = fault_queue
    argv = [x for k, v in VALUES.items() for x in (f"--{k}", v)]
    assert cli(fault_url, "submit", "--", *argv, queue=q).returncode == 0
    assert cli(fault_url, "submit", "--args", json.dumps(EXPECTED), queue=q).returncode == 0
    exported = _export(fault_url, q)
    for rec in exported:
        _same_types(rec["args"])
    res = cli(fault_url, "ls", "--format", "json", queue=q)
    assert res.returncode == 0, res.stderr
    for rec in json.loads(res.stdout):
        _same_types(rec["args"])
    # the loop passes the value as written, not as an integer
    res = cli(fault_url, "loop", "--", "echo", "lr=%(lr)", "%(big)", "%(edge)", "%(small)",
              "%(neg0)", "%(imax)", "%(nbig)", "%(tiny)", queue=q, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("lr=1e+20 ") == 2 or res.stdout.count("lr=1e20 ") == 2, res.stdout
    assert "100000000000000000000" not in res.stdout
    # export -> import into another queue keeps them too
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "task_id"}) + "\n"
                            for r in exported))
    q2 = q + "b"
    res = cli(fault_url, "import", "--queue", q2, str(dump), queue=q)
    assert res.returncode == 0, res.stderr
    again = _export(fault_url, q2)
    assert len(again) == 2
    for rec in again:
        assert rec["queue_id"] == q2
        _same_types(rec["args"])
