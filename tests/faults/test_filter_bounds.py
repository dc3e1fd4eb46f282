"""No filter can block the queue, and filter errors are clean.

* a regex is bounded (1 s per value): a catastrophic one fails with a clear error, exit 2;
* `update -f` / `delete -f` evaluate the filter in a read transaction: while a slow filter
  runs, `submit` in another process goes through at once;
* `in` lists of 100,000 ids, 33,000 ids piped into update/delete (beyond SQLite's 32,766
  bound parameters), and `or` chains of 5,000 terms work on SQLite, with the same
  answers as the reference evaluator;
* deep nesting, lone surrogates and NUL characters are refused with one message, exit 2.
"""

from __future__ import annotations

import json
import time

import pytest
import reference_eval as ref
import regex
from conftest import cli, popen, sqlite_rows

from labtasker_tui.query import parse_filter

SLOW = "^(a|aa)+$"  # exponential backtracking on "aaaa...!"


def _submit_file(db: str, specs: list[dict], queue: str = "default") -> list[str]:
    res = cli(db, "submit", "--file", "-", "-q", input="\n".join(map(json.dumps, specs)),
              queue=queue)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def _state(path) -> list[tuple]:
    return sqlite_rows(path, "SELECT task_id, priority, version, args FROM tasks ORDER BY 1")


def _slow_length(target: float = 0.1) -> int:
    """The length of "a...a!" on which SLOW takes about ``target`` seconds here."""
    pattern = regex.compile(SLOW)
    n = 18
    while True:
        t = time.perf_counter()
        pattern.search("a" * n + "!")
        if time.perf_counter() - t > target or n > 40:
            return n
        n += 1


def test_catastrophic_regex_is_bounded(sqlite_db):
    db = str(sqlite_db)
    _submit_file(db, [{"args": {"name": "a" * 60 + "!"}}, {"args": {"name": "aaa"}}])
    before = _state(sqlite_db)
    for args in (["update", "-y", "-f", f"regex(args.name, '{SLOW}')", "-u", "priority=3"],
                 ["delete", "-y", "-f", json.dumps({"args.name": {"$regex": SLOW}})],
                 ["count", "-f", json.dumps({"args.name": {"$regex": SLOW}})]):
        t = time.monotonic()
        res = cli(db, *args)
        assert res.returncode == 2, (args, res.stderr)
        assert time.monotonic() - t < 20
        assert res.stderr.strip() == (
            f"Error: Invalid filter: regex '{SLOW}' took longer than 1 s on one value; simplify"
            " it (avoid nested quantifiers such as (a+)+)"), res.stderr
    assert _state(sqlite_db) == before


@pytest.mark.parametrize("command", ["update", "delete"])
def test_slow_filter_does_not_block_submit(sqlite_db, command):
    db = str(sqlite_db)
    n = _slow_length()
    _submit_file(db, [{"args": {"name": "a" * n + "!", "i": i}} for i in range(16)]
                 + [{"args": {"name": "aa"}}])
    before = {r[0]: r for r in _state(sqlite_db)}
    flt = f"regex(args.name, '{SLOW}')"
    args = (["update", "-y", "-f", flt, "-u", "priority=3"] if command == "update"
            else ["delete", "-y", "-f", flt])
    slow = popen(db, *args)
    try:
        time.sleep(1.2)  # started, and evaluating the filter
        assert slow.poll() is None, slow.communicate()
        t = time.monotonic()
        res = cli(db, "submit", "-q", "--", "--fresh", "1", timeout=30)
        took = time.monotonic() - t
        assert res.returncode == 0, res.stderr
        # the submit is done while the filter still runs (before, it waited for the filter
        # to finish: the write lock was held during the whole evaluation)
        assert slow.poll() is None, "the submit finished only after the slow filter"
        assert took < 5, f"submit waited {took:.1f} s behind a filter"
        out, err = slow.communicate(timeout=120)
    finally:
        if slow.poll() is None:
            slow.kill()
    fresh = res.stdout.strip()
    rows = {r[0]: r for r in _state(sqlite_db)}
    assert json.loads(rows[fresh][3]) == {"fresh": 1} and rows[fresh][1] == 10
    if slow.returncode == 2:  # a value took over 1 s on a loaded machine: nothing written
        assert "took longer than 1 s" in err
        assert {k: v for k, v in rows.items() if k != fresh} == before
        return
    assert slow.returncode == 0, err
    matched = [k for k, r in before.items() if json.loads(r[3])["name"] == "aa"]
    if command == "update":
        assert sorted(k for k, r in rows.items() if r[1] == 3) == sorted(matched)
    else:
        assert sorted(rows) == sorted([fresh] + [k for k in before if k not in matched])


@pytest.fixture
def many(fault_url, fault_queue):
    """120 tasks with varied ``args.x`` (numbers, strings, booleans, null, arrays, missing)."""
    values = [0, 1, 2, 2.5, -3, 10**12, "1", "a", "b", "", True, False, None, [1, "a"], [],
              [[1]], {"y": 1}, "x" * 20]
    specs = []
    for i in range(120):
        args = {"i": i}
        if i % 19:
            args["x"] = values[i % len(values)]
        specs.append({"args": args})
    ids = _submit_file(fault_url, specs, queue=fault_queue)
    docs = {task_id: {"task_id": task_id, "args": s["args"]} for task_id, s in zip(ids, specs,
                                                                                    strict=True)}
    return (fault_url, fault_queue), docs


def _ls(db: tuple[str, str], flt: str, tmp_path) -> set[str]:
    path = tmp_path / "filter.txt"
    path.write_text(flt, encoding="utf-8")
    res = cli(db[0], "ls", "-q", "-f", f"@{path}", queue=db[1], timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return set(res.stdout.split())


def _expected(docs, flt: str) -> set[str]:
    compiled = parse_filter(flt)
    return {k for k, d in docs.items() if ref.matches(compiled.ir, d)}


def test_in_of_100000_ids_and_values(many, tmp_path):
    db, docs = many
    real = sorted(docs)[::3]
    fake = [f"00000000-0000-0000-0000-{i:012d}" for i in range(100_000 - len(real))]
    ids = real + fake
    python = "task_id in [" + ",".join(f"'{x}'" for x in ids) + "]"
    mongo = json.dumps({"task_id": {"$in": ids}})
    assert _ls(db, python, tmp_path) == set(real)
    assert _ls(db, mongo, tmp_path) == set(real)
    # JSON paths: strings and numbers by one lookup each, the other values one by one
    others = ["a", "1", True, None, [1, "a"]]
    flt = json.dumps({"args.x": {"$in": [*range(-50_000, 50_000), *others]}})
    nin = json.dumps({"args.x": {"$nin": [*range(-50_000, 50_000), *others]}})
    # the reference evaluator is slow on long lists: the stored numbers are 0, 1, 2, 2.5, -3
    # and 10**12, so range(-50, 50) selects exactly what range(-50000, 50000) does
    small = json.dumps({"args.x": {"$in": [*range(-50, 50), *others]}})
    small_nin = json.dumps({"args.x": {"$nin": [*range(-50, 50), *others]}})
    assert _ls(db, flt, tmp_path) == _expected(docs, small)
    assert _ls(db, nin, tmp_path) == _expected(docs, small_nin)


def test_or_of_5000_terms(many, tmp_path):
    db, docs = many
    python = " or ".join(f"args.x == {i}" for i in range(5000)) + " or args.x == 'a'"
    mongo = json.dumps({"$or": [{"args.x": i} for i in range(5000)]
                        + [{"args.x": "b"}, {"args.i": {"$gte": 115}}]})
    # terms that cannot merge into one lookup: before, 500 of them overflowed SQLite's depth
    mixed = " or ".join(f"args.i < {-k}" for k in range(1200)) + " or args.i == 7"
    for flt in (python, mongo, mixed):
        got = _ls(db, flt, tmp_path)
        assert got == _expected(docs, flt)
        assert got  # the comparison is not vacuous


def test_update_and_delete_33000_ids_on_stdin(sqlite_db):
    db = str(sqlite_db)
    ids = _submit_file(db, [{"args": {"i": i}} for i in range(33_000)])
    res = cli(db, "update", "-y", "-q", "-u", "priority=7", input="\n".join(ids) + "\n",
              timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sqlite_rows(sqlite_db, "SELECT priority, version, count(*) FROM tasks GROUP BY 1, 2") \
        == [(7, 2, 33_000)]
    res = cli(db, "delete", "-y", "-q", input="\n".join(ids[:30_000]) + "\n", timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sqlite_rows(sqlite_db, "SELECT count(*) FROM tasks") == [(3_000,)]


DEEP_MONGO = '{"$and": [' * 1000 + "{}" + "]}" * 1000
DEEP_VALUE = '{"args.x": ' + "[" * 1000 + "]" * 1000 + "}"
BAD_FILTERS = {
    "mongo-1000-deep": (DEEP_MONGO, "filter nested too deeply"),
    "mongo-value-1000-deep": (DEEP_VALUE, "filter nested too deeply"),
    "python-1000-deep": ("(" * 1000 + "args.x == 1" + ")" * 1000, "filter nested too deeply"),
    "python-list-deep": ("args.x == " + "[" * 500 + "]" * 500, "filter nested too deeply"),
    "lone-surrogate": ("args.x == '\udc80'", "not valid UTF-8"),
    "surrogate-escape-json": ('{"args.x": "\\udc80"}', "lone surrogate"),
    "nul-python": ("args.x == 'a\\x00b'", "a NUL character"),
    "nul-json": ('{"args.x": "a\\u0000b"}', "a NUL character"),
    "nul-key": ('{"args.x\\u0000": 1}', "a NUL character"),
}


@pytest.mark.parametrize("name", list(BAD_FILTERS))
def test_bad_filters_are_clean_errors(sqlite_db, name):
    flt, message = BAD_FILTERS[name]
    db = str(sqlite_db)
    _submit_file(db, [{"args": {"x": "ab"}}, {"args": {"x": 1}}])
    before = _state(sqlite_db)
    for args in (["delete", "-y"],):  # the write path (ls/update compile the same way)
        # a lone surrogate reaches the child as the byte 0x80 (surrogateescape both ways)
        res = cli(db, *args, "-f", flt)
        assert res.returncode == 2, (args, res.stderr[-500:])
        assert "Traceback" not in res.stderr
        last = res.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: Invalid filter: ") and message in last, res.stderr
    assert _state(sqlite_db) == before
