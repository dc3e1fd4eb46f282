"""``$expr`` arithmetic that MongoDB rejects (a zero divisor, a non-number operand) fails the
filter with a clear message instead of matching nothing.

A literal operand is refused by the parser, with a caret; an operand that depends on the row
fails the statement on the first row that reaches it (SQLite: a registered function raises;
PostgreSQL: a failing cast carries the message), and the CLI reports "Invalid filter: ..."
with exit status 2. ``$and``/``$or`` inside ``$expr`` stop at the first decisive operand, as in
MongoDB, so a guard written there protects the arithmetic after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import reference_eval as ref
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from test_query_sql import BACKENDS, make_db, mongo_view, sql_match, task_row

from labtasker_tui.cli.main import cli
from labtasker_tui.query import FilterError, parse_filter


@pytest.mark.parametrize(("text", "message", "needle"), [
    ('{"$expr": {"$gt": [{"$divide": ["$args.a", 0]}, 1]}}', "can't $divide by zero", "$divide"),
    ('{"$expr": {"$gt": [{"$mod": ["$args.a", -0.0]}, 1]}}', "can't $mod by zero", "$mod"),
    ('{"$expr": {"$gt": [{"$add": ["$args.a", "x"]}, 1]}}',
     "$add only supports numeric types, not string", "$add"),
    ('{"$expr": {"$gt": [{"$multiply": [true, "$args.a"]}, 1]}}',
     "$multiply only supports numeric types, not bool", "$multiply"),
    ('{"$expr": {"$gt": [{"$subtract": ["$args.a", {"$literal": [1]}]}, 1]}}',
     "$subtract only supports numeric types, not array", "$subtract"),
    ("args.a / 0 > 1", "can't $divide by zero", "0"),
    ("args.a % 0.0 > 1", "can't $mod by zero", "0.0"),
    ("args.a + 'x' > 1",
     "Only numbers and date() can be used in arithmetic or field-to-field comparisons ($expr), "
     "got: 'x'", "'x'"),
    ("2 * args.a < 1.5", None, None),
    ('{"$expr": {"$gt": [{"$subtract": ["$args.a", {"$date": "2020-01-01T00:00:00Z"}]}, 1]}}',
     "$subtract only supports numeric types, not date", "$subtract"),
])
def test_literal_operands_are_refused_with_a_caret(text: str, message: str | None,
                                                   needle: str | None) -> None:
    if message is None:
        assert parse_filter(text) is not None
        return
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert err.value.message == message
    assert needle is not None
    quoted = f'"{needle}"' if text.startswith("{") else needle
    assert err.value.column == text.index(quoted) + 1


def test_date_arithmetic_is_written_out_then_refused() -> None:
    """The Python syntax writes ``date(...) + 1`` out as Labtasker does; compiling it is
    refused (MongoDB adds milliseconds to a date; only number arithmetic is compiled)."""
    text = "last_modified > date('2025-01-01T00:00:00Z') + 1"
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert err.value.message == "$add only supports numeric types, not date"


def test_null_and_numbers_are_fine_literals() -> None:
    assert parse_filter('{"$expr": {"$gt": [{"$divide": ["$args.a", null]}, 1]}}') is not None
    assert parse_filter('{"$expr": {"$gt": [{"$divide": [0, "$args.a"]}, 1]}}') is not None


GOOD = [("four-two", {"a": 4, "b": 2}), ("one-null", {"a": 1, "b": None}),
        ("missing-b", {"a": 3})]
BAD = {"zero": {"a": 1, "b": 0}, "string": {"a": "x", "b": 1}, "array": {"a": [4], "b": 1},
       "object": {"a": {"k": 1}, "b": 1}, "bool": {"a": True, "b": 2}}


def _guarded_divide() -> dict[str, Any]:
    return {"$and": [{"$ne": ["$args.b", 0]},
                     {"$gt": [{"$divide": ["$args.a", "$args.b"]}, 1]}]}


CASES: list[tuple[dict[str, Any], str, list[str], str | None]] = [
    # filter, bad row, matches among GOOD, message
    ({"$expr": {"$gt": [{"$divide": ["$args.a", "$args.b"]}, 1]}}, "zero", ["four-two"],
     "can't $divide by zero"),
    ({"$expr": {"$eq": [{"$mod": ["$args.a", "$args.b"]}, 0]}}, "zero", ["four-two"],
     "can't $mod by zero"),
    ({"$expr": {"$gt": [{"$add": ["$args.a", "$args.b"]}, 1]}}, "string", ["four-two"],
     "$add only supports numeric types, not string"),
    ({"$expr": {"$gt": [{"$multiply": ["$args.b", "$args.a"]}, 1]}}, "array", ["four-two"],
     "$multiply only supports numeric types, not array"),
    ({"$expr": {"$gt": [{"$subtract": ["$args.a", "$args.b"]}, 1]}}, "object", ["four-two"],
     "$subtract only supports numeric types, not object"),
    ({"$expr": {"$gt": [{"$divide": ["$args.a", "$args.b"]}, 1]}}, "bool", ["four-two"],
     "$divide only supports numeric types, not bool"),
    # nested, and under a negation: the error still surfaces
    ({"$expr": {"$eq": [{"$add": [{"$divide": ["$args.a", "$args.b"]}, 1]}, 3]}}, "zero",
     ["four-two"], "can't $divide by zero"),
    ({"$nor": [{"$expr": {"$gt": [{"$divide": ["$args.a", "$args.b"]}, 1]}}]}, "zero",
     ["missing-b", "one-null"], "can't $divide by zero"),
    # a guard inside $expr: $and stops at the first false operand, as in MongoDB
    ({"$expr": _guarded_divide()}, "zero", ["four-two"], None),
]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _rows(names: list[str]) -> list[dict[str, Any]]:
    args = dict(GOOD) | BAD
    return [task_row(i, task_name=n, args=args[n]) for i, n in enumerate(names)]


@pytest.fixture(scope="module")
def good_db(backend: str) -> Iterator[Engine]:
    yield from make_db(backend, _rows([n for n, _ in GOOD]))


@pytest.mark.parametrize(("f", "bad", "expected", "message"), CASES, ids=lambda v: str(v)[:40])
def test_row_dependent_errors(backend: str, good_db: Engine, f: dict[str, Any], bad: str,
                              expected: list[str], message: str | None) -> None:
    compiled = parse_filter(f)
    assert compiled is not None
    good = _rows([n for n, _ in GOOD])
    assert sorted(r["task_name"] for r in good if ref.matches(compiled.ir, mongo_view(r))) \
        == expected
    assert sql_match(good_db, f) == expected
    rows = _rows([*(n for n, _ in GOOD), bad])
    for engine in make_db(backend, rows):
        if message is None:
            assert sql_match(engine, f) == expected
            assert not any(ref.expr_errors(compiled.ir, mongo_view(r)) for r in rows[:-1])
            continue
        with pytest.raises(FilterError) as err:
            sql_match(engine, f)
        assert err.value.message == message
        with pytest.raises(ref.ExprError, match=message.replace("$", r"\$")):
            ref.matches(compiled.ir, mongo_view(rows[-1]))


@pytest.mark.parametrize("backend_id", [p.values[0] for p in BACKENDS])
def test_cli_reports_invalid_filter(backend_id: str, tmp_path: Any) -> None:
    from test_query_sql import PG_URL

    if backend_id == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
    elif PG_URL:
        url = PG_URL
    else:
        pytest.skip("set LABTASKER_TUI_TEST_PG")
    runner = CliRunner()
    base = ["--db", url, "--queue", "q" + uuid.uuid4().hex[:12]]
    for a, b in ((4, 2), (1, 0)):
        res = runner.invoke(cli, [*base, "submit", "-q", "--", "--a", str(a), "--b", str(b)])
        assert res.exit_code == 0, res.output
    res = runner.invoke(cli, [*base, "ls", "-q", "-f", "args.a / args.b > 1"])
    assert res.exit_code == 2
    assert "Invalid filter: can't $divide by zero" in res.stderr
    res = runner.invoke(cli, [*base, "count", "-f", "args.a / 0 > 1"])
    assert res.exit_code == 2
    assert "Invalid filter: can't $divide by zero" in res.stderr
    assert "^" in res.stderr  # the caret under the literal zero
