"""One validation for every way in: --args, --metadata, `--` tokens, submit --file, import,
update -u, the editor. Bad input: one line naming the record and the path, exit 2, no
traceback, and the database exactly as before (every batch is one transaction)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import cli

from labtasker_tui.documents import MAX_DEPTH

DEEP_KEY = ".".join(["a"] * 2000)


def _snapshot(db: str, queue: str) -> list[str]:
    res = cli(db, "export", queue=queue)
    assert res.returncode == 0, res.stderr
    return sorted(res.stdout.splitlines())


def _line(args: str, **extra: object) -> str:
    """A JSON line with ``args`` given as raw JSON text (so escapes reach the parser)."""
    rest = "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in extra.items())
    return '{"args": ' + args + rest + "}"


def _nested(depth: int) -> str:
    return '{"x": ' + "[" * depth + "]" * depth + "}"


BAD_DOCS = [  # (args JSON text, words the message must contain)
    ('{"x": "a\\ud800b"}', "args.x", "lone surrogate"),
    ('{"x": "a\\u0000b"}', "args.x", "NUL"),
    ('{"a\\u0000": 1}', "args", "NUL"),
    ('{"": 1}', "args", "''"),
    ('{"$gt": 1}', "args", "$gt"),
    ('{"a b": 1}', "args", "a b"),
    ('{"a.b": 1, "a": 2}', "args", "Conflict"),
    ('{"n": 9223372036854775808}', "args.n", "64-bit"),
    ('{"n": -9223372036854775809}', "args.n", "64-bit"),
    (_nested(MAX_DEPTH + 5), "args", "deep"),
    (_nested(1000), "", "deep"),
    ('{"' + DEEP_KEY + '": 1}', "args", "deep"),
]


def test_bad_values_refused_by_every_way_in(fault_url, fault_queue, tmp_path):
    q = fault_queue
    res = cli(fault_url, "submit", "-q", "--", "--keep", "1", queue=q)
    assert res.returncode == 0, res.stderr
    task_id = res.stdout.strip()
    before = _snapshot(fault_url, q)
    calls: list[tuple[tuple[str, ...], list[str]]] = []
    for n, (doc, where, why) in enumerate(BAD_DOCS):
        specs = tmp_path / f"specs{n}.jsonl"
        specs.write_text(_line('{"ok": 1}') + "\n\n" + _line(doc) + "\n")
        records = tmp_path / f"records{n}.json"  # a JSON array: records are numbered
        records.write_text("[" + _line('{"ok": 1}') + ",\n" + _line(doc) + "]")
        line3 = f"line 3: {where}" if where else "line 3"
        ways = [
            (("submit", "--args", doc), [where, why]),
            (("submit", "--metadata", doc.replace('"x"', '"m"'), "--", "--a", "1"), [why]),
            (("submit", "--file", str(specs)), [str(specs), line3, why]),
            (("import", str(records)), [str(records), "record 2" if where else "", why]),
            # a literal too deep for Python's parser stays a string: still refused
            (("update", "--id", task_id, "-y", "-u", f"args={doc}"), ["args"]),
        ]
        # every way sees several kinds of bad value; every kind goes two ways on SQLite, one
        # on PostgreSQL (validation happens before any database access: the suite stays fast)
        calls += [ways[n % 5]] + ([ways[(n + 2) % 5]] if fault_url.startswith("sqlite") else [])
    calls += [
        (("submit", "--", "--" + DEEP_KEY, "1"), ["args", "deep"]),
        (("update", "--id", task_id, "-y", "-u", f"args.{DEEP_KEY}=1"), ["args", "deep"]),
        (("update", "--id", task_id, "-y", "-u", "args.x='a\\x00b'"), ["args.x", "NUL"]),
        (("update", "--id", task_id, "-y", "-u", "args.n=18446744073709551616"), ["args.n"]),
    ]
    for argv, words in calls:
        res = cli(fault_url, *argv, queue=q)
        assert res.returncode == 2, (argv, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, (
            argv, res.stderr)
        for word in words:
            assert word in res.stderr, (argv, word, res.stderr)
    assert _snapshot(fault_url, q) == before


def test_dotted_keys_from_files_are_expanded_like_args(fault_url, fault_queue, tmp_path):
    q = fault_queue
    specs = tmp_path / "specs.jsonl"
    specs.write_text(_line('{"opt.lr": 0.1, "opt": {"wd": 0.5}, "x": -0.0}') + "\n")
    assert cli(fault_url, "submit", "--file", str(specs), queue=q).returncode == 0
    assert cli(fault_url, "import", str(specs), queue=q).returncode == 0
    assert cli(fault_url, "submit", "--args", '{"opt.lr": 0.1, "opt": {"wd": 0.5}, "x": -0.0}',
               queue=q).returncode == 0
    res = cli(fault_url, "ls", "-q", "-f", "args.opt.lr == 0.1 and args.opt.wd == 0.5", queue=q)
    assert len(res.stdout.split()) == 3, res.stderr
    rows = [json.loads(x) for x in _snapshot(fault_url, q)]
    assert [r["args"] for r in rows] == [{"opt": {"lr": 0.1, "wd": 0.5}, "x": 0.0}] * 3


def test_numbers_and_timeouts_out_of_range(sqlite_db, tmp_path):
    """Checked before any database access (models.TaskFields), so SQLite shows it for both."""
    fault_url, q = str(sqlite_db), "default"
    res = cli(fault_url, "submit", "-q", "--", "--keep", "1", queue=q)
    task_id = res.stdout.strip()
    before = _snapshot(fault_url, q)
    huge = "99999999999999999999"
    records = tmp_path / "r.jsonl"
    cases = [
        (("submit", "--priority", huge, "--", "--a", "1"), "priority"),
        (("submit", "--max-retries", huge, "--", "--a", "1"), "max_retries"),
        (("submit", "--max-retries", "-1", "--", "--a", "1"), "max_retries"),
        (("submit", "--task-timeout", "-1", "--", "--a", "1"), "task_timeout"),
        (("submit", "--task-timeout", "0", "--", "--a", "1"), "task_timeout"),
        (("submit", "--task-timeout", huge, "--", "--a", "1"), "task_timeout"),
        (("submit", "--heartbeat-timeout", "-5", "--", "--a", "1"), "heartbeat_timeout"),
        (("submit", "--heartbeat-timeout", "nan", "--", "--a", "1"), "heartbeat_timeout"),
        (("submit", "--heartbeat-timeout", "inf", "--", "--a", "1"), "heartbeat_timeout"),
        (("update", "--id", task_id, "-y", "-u", f"priority={huge}"), "priority"),
        (("update", "--id", task_id, "-y", "-u", "task_timeout=-1"), "task_timeout"),
        (("update", "--id", task_id, "-y", "-u", "max_retries=-2"), "max_retries"),
        (("update", "--id", task_id, "-y", "-u", "retries=-1"), "retries"),
        (("update", "--id", task_id, "-y", "-u", "heartbeat_timeout=0"), "heartbeat_timeout"),
        (("import", str(records)), "line 2"),
    ]
    records.write_text('{"args": {"a": 1}}\n{"args": {"a": 2}, "task_timeout": -1}\n')
    for argv, word in cases:
        res = cli(fault_url, *argv, queue=q)
        assert res.returncode == 2, (argv, res.stderr)
        assert word in res.stderr and "Traceback" not in res.stderr, (argv, res.stderr)
    for field, value in (("priority", huge), ("heartbeat_timeout", "NaN"),
                         ("max_retries", "-1")):
        records.write_text('{"args": {"a": 1}}\n{"args": {"a": 2}, "' + field + '": ' + value
                           + "}\n")
        res = cli(fault_url, "import", str(records), queue=q)
        assert res.returncode == 2 and field in res.stderr and "line 2" in res.stderr, res.stderr
    assert _snapshot(fault_url, q) == before
    # limits that are fine: null timeouts, 2**63-1 priority
    res = cli(fault_url, "update", "--id", task_id, "-y", "-u", "task_timeout=None",
              "-u", f"priority={2**63 - 1}", queue=q)
    assert res.returncode == 0, res.stderr


def test_import_file_not_utf8_is_named(sqlite_db, tmp_path):
    bad = tmp_path / "backup.jsonl"
    bad.write_bytes(b'{"args": {"a": 1}}\n{"args": {"a": "caf\xe9"}}\n')
    for argv in (("import", str(bad)), ("submit", "--file", str(bad))):
        res = cli(str(sqlite_db), *argv)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert f"{bad}: not UTF-8" in res.stderr and "byte 38 (line 2)" in res.stderr
    res = cli(str(sqlite_db), "import", "-", input=b'{"args": {"a": "\xff"}}\n', text=False)
    assert res.returncode == 2 and b"<stdin>: not UTF-8" in res.stderr, res.stderr
    assert cli(str(sqlite_db), "count", "--format", "json").stdout.count('"total": 0') == 1


def test_bad_schema_version_is_reported(sqlite_db):
    con = sqlite3.connect(sqlite_db)
    con.execute("UPDATE schema_info SET value = 'abc' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    for argv in (("ls", "--no-pager"), ("submit", "--", "--a", "1"), ("count",)):
        res = cli(str(sqlite_db), *argv)
        assert res.returncode == 1, (argv, res.stderr)
        assert "schema_version is 'abc'" in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_import_queue_rule(fault_url, fault_queue, tmp_path):
    import os
    import subprocess
    import sys

    q = fault_queue
    recs = tmp_path / "r.jsonl"
    recs.write_text(f'{{"queue_id": "{q}x", "args": {{"a": 1}}}}\n{{"args": {{"a": 2}}}}\n')
    # no --queue on the command line: a record's own queue is kept (a restore); records
    # without one go to the current queue (here from LABTASKER_TUI_QUEUE)
    res = subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", fault_url, "import",
                          str(recs)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "LABTASKER_TUI_QUEUE": q})
    assert res.returncode == 0, res.stderr
    assert len(_snapshot(fault_url, q + "x")) == 1 and len(_snapshot(fault_url, q)) == 1
    # `import --queue Q` wins over the records' queue_id, and so does the global --queue
    res = cli(fault_url, "import", "--queue", q + "y", str(recs), queue=q)
    assert res.returncode == 0, res.stderr
    assert [json.loads(x)["queue_id"] for x in _snapshot(fault_url, q + "y")] == [q + "y"] * 2
    recs.write_text(recs.read_text().replace('"a": ', '"b": '))
    res = cli(fault_url, "import", str(recs), queue=q + "z")
    assert res.returncode == 0, res.stderr
    assert [json.loads(x)["queue_id"] for x in _snapshot(fault_url, q + "z")] == [q + "z"] * 2
    res = cli(fault_url, "import", "--queue", "bad queue", str(recs), queue=q)
    assert res.returncode == 2 and "--queue" in res.stderr


def test_editor_uses_the_same_validator():
    from datetime import UTC, datetime

    from labtasker_tui.models import Task
    from labtasker_tui.tui.task_yaml import EditError, dump_tasks, parse_tasks

    now = datetime.now(UTC)
    task = Task(task_id="0" * 8 + "-0000-0000-0000-" + "0" * 12, status="pending",
                created_at=now, last_modified=now, args={"lr": 0.1})
    text = dump_tasks([task])
    for bad, word in (("lr: .nan", "args.lr"), ("lr: .inf", "args.lr"),
                      ("lr: 99999999999999999999", "64-bit"), ('lr: "a\\0b"', "NUL"),
                      ('"a b": 1', "a b")):
        with pytest.raises(EditError, match=word):
            parse_tasks(text.replace("lr: 0.1", bad), [task])
    ok = parse_tasks(text.replace("lr: 0.1", "opt.lr: -0.0"), [task])
    assert repr(ok.changes[task.task_id]["args"]) == "{'opt': {'lr': 0.0}}"
    with pytest.raises(EditError, match="task_timeout"):
        parse_tasks(text.replace("task_timeout: null", "task_timeout: -1"), [task])


def test_job_api_still_validates_keys(tmp_path: Path):
    from labtasker_tui.errors import UserError
    from labtasker_tui.store.claims import check_summary

    assert check_summary({"loss": float("nan"), "a.b": -0.0}) == {"loss": "NaN",
                                                                   "a": {"b": 0.0}}
    # a job's output (a failure's log_tail) may hold NUL bytes: recorded, not fatal
    assert check_summary({"log_tail": ["a\x00b", "c\ud800"]}) == {
        "log_tail": ["a\ufffdb", "c?"]}
    for bad in ({"a b": 1}, {"x\x00": 1}, {"n": 2**64}, {"x": object()}):
        with pytest.raises(UserError):
            check_summary(bad)
