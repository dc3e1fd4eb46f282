"""Python-syntax filter -> Mongo dict (spec §4.2-4.5), FilterError display, date() parsing."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labtasker_tui.query.dates import parse_date
from labtasker_tui.query.errors import FilterError
from labtasker_tui.query.python_syntax import ALLOWED_ROOTS, python_to_mongo

EXAMPLES_FILE = Path(__file__).resolve().parents[3] / "shared" / "filters" / "examples.jsonl"


def _exists(path: str) -> dict[str, Any]:
    return {path: {"$exists": True}}


# ---- §4.4 examples table ------------------------------------------------------------------

SPEC_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("args.lr == 0.1", {"args.lr": 0.1}),
    ("task_name == 'grid-1'", {"task_name": "grid-1"}),
    ("status in ['pending', 'failed']", {"status": {"$in": ["pending", "failed"]}}),
    ("args.model in ('resnet', 'vit')", {"args.model": {"$in": ["resnet", "vit"]}}),
    ("args.x in []", {"args.x": {"$in": []}}),
    (
        "priority >= 10 and retries > 0",
        {"$and": [{"priority": {"$gte": 10}}, {"retries": {"$gt": 0}}]},
    ),
    (
        "args.lr > 0.01 or metadata.note == 'baseline'",
        {"$or": [{"args.lr": {"$gt": 0.01}}, {"metadata.note": "baseline"}]},
    ),
    (
        "(args.a > 1 and args.b < 2) or status == 'failed'",
        {
            "$or": [
                {"$and": [{"args.a": {"$gt": 1}}, {"args.b": {"$lt": 2}}]},
                {"status": "failed"},
            ]
        },
    ),
    (
        "args.a > 18 and 65 > args.b and status == 'active'",
        {"$and": [{"args.a": {"$gt": 18}}, {"args.b": {"$lt": 65}}, {"status": "active"}]},
    ),
    (
        "args.a > 1 or args.b > 2 or args.c > 3",
        {"$or": [{"args.a": {"$gt": 1}}, {"args.b": {"$gt": 2}}, {"args.c": {"$gt": 3}}]},
    ),
    ("18 < args.age", {"args.age": {"$gt": 18}}),
    ("18 <= args.age", {"args.age": {"$gte": 18}}),
    ("18 > args.age", {"args.age": {"$lt": 18}}),
    ("18 >= args.age", {"args.age": {"$lte": 18}}),
    ("18 == args.age", {"args.age": 18}),
    ("-1 < args.a", {"args.a": {"$gt": -1}}),
    ("args.a <= -0.5", {"args.a": {"$lte": -0.5}}),
    ("args.a > -(5)", {"args.a": {"$gt": -5}}),
    ("args.opt['momentum'] == 0.9", {"args.opt.momentum": 0.9}),
    ("args.layers[0] == 64", {"args.layers.0": 64}),
    ("args.layers[0].units >= 32", {"args.layers.0.units": {"$gte": 32}}),
    ("args.b[0]['c'].d == 1", {"args.b.0.c.d": 1}),
    ("args['learning-rate'] < 1e-3", {"args.learning-rate": {"$lt": 0.001}}),
    ("metadata.tags == ['a', 'b']", {"metadata.tags": ["a", "b"]}),
    ("metadata.info == {'k': 1}", {"metadata.info": {"k": 1}}),
    ("args.x == (1, [2, (3,)])", {"args.x": [1, [2, [3]]]}),
    ("args.x == None", {"args.x": None}),
    ("args.flag == True", {"args.flag": True}),
    ("'v1' in list(metadata.tags)", {"metadata.tags": "v1"}),
    ("'v1' in dict(metadata.tags)", {"metadata.tags.v1": {"$exists": True}}),
    ("regex(task_name, '^grid-.*')", {"task_name": {"$regex": "^grid-.*"}}),
    ("regex(args.text, '(?i)good')", {"args.text": {"$regex": "(?i)good"}}),
    ("exists(summary.acc)", {"summary.acc": {"$exists": True}}),
    ("exists(summary.acc, False)", {"summary.acc": {"$exists": False}}),
    ("exists('args.x')", {"args.x": {"$exists": True}}),
    (
        "summary.acc > 0.9 and exists(summary.loss)",
        {"$and": [{"summary.acc": {"$gt": 0.9}}, {"summary.loss": {"$exists": True}}]},
    ),
    (
        "args.a > args.b",
        {
            "$and": [
                _exists("args.a"),
                _exists("args.b"),
                {"$expr": {"$gt": ["$args.a", "$args.b"]}},
            ]
        },
    ),
    (
        "args.a + args.b > 10",
        {
            "$and": [
                _exists("args.a"),
                _exists("args.b"),
                {"$expr": {"$gt": [{"$add": ["$args.a", "$args.b"]}, 10]}},
            ]
        },
    ),
    (
        "args.a * 2 <= summary.x",
        {
            "$and": [
                _exists("args.a"),
                _exists("summary.x"),
                {"$expr": {"$lte": [{"$multiply": ["$args.a", 2]}, "$summary.x"]}},
            ]
        },
    ),
    (
        "args.a % 2 == 0",
        {"$and": [_exists("args.a"), {"$expr": {"$eq": [{"$mod": ["$args.a", 2]}, 0]}}]},
    ),
    (
        "args.a - 1 >= args.b / 2",
        {
            "$and": [
                _exists("args.a"),
                _exists("args.b"),
                {"$expr": {"$gte": [{"$subtract": ["$args.a", 1]}, {"$divide": ["$args.b", 2]}]}},
            ]
        },
    ),
    (
        "-args.a > 3",
        {"$and": [_exists("args.a"), {"$expr": {"$gt": [{"$multiply": [-1, "$args.a"]}, 3]}}]},
    ),
    (
        "args.a + (-5) > args.b",
        {
            "$and": [
                _exists("args.a"),
                _exists("args.b"),
                {"$expr": {"$gt": [{"$add": ["$args.a", -5]}, "$args.b"]}},
            ]
        },
    ),
    (
        "args.total > -(args.price * args.quantity)",
        {
            "$and": [
                _exists("args.total"),
                _exists("args.price"),
                _exists("args.quantity"),
                {
                    "$expr": {
                        "$gt": [
                            "$args.total",
                            {"$multiply": [-1, {"$multiply": ["$args.price", "$args.quantity"]}]},
                        ]
                    }
                },
            ]
        },
    ),
    # a path that is a prefix of another referenced path gets no guard of its own
    (
        "args.a.b > args.a",
        {"$and": [_exists("args.a.b"), {"$expr": {"$gt": ["$args.a.b", "$args.a"]}}]},
    ),
    # the same path twice is guarded once
    (
        "args.a * args.a > 4",
        {
            "$and": [
                _exists("args.a"),
                {"$expr": {"$gt": [{"$multiply": ["$args.a", "$args.a"]}, 4]}},
            ]
        },
    ),
    (
        "(summary.stats.score > 100) and (summary.profile.level >= 5)",
        {
            "$and": [
                {"summary.stats.score": {"$gt": 100}},
                {"summary.profile.level": {"$gte": 5}},
            ]
        },
    ),
    ("True", {"$expr": True}),
    ("False", {"$expr": False}),
    ("1", {"$expr": True}),
    ("0", {"$expr": False}),
    ("args.x>18", {"args.x": {"$gt": 18}}),
    ("  args.x  ==  'é∑'  ", {"args.x": "é∑"}),
    ("'C:\\\\Users' == args.p", {"args.p": "C:\\Users"}),
    ("args.x == 'a' 'b'", {"args.x": "ab"}),
    ("(args.a == 1 and\n args.b == 2)", {"$and": [{"args.a": 1}, {"args.b": 2}]}),
    ("args.seed == 9007199254740993", {"args.seed": 9007199254740993}),
    ("args.big == 123456789012345678901234567890", {"args.big": 123456789012345678901234567890}),
    ("args.x == '$notanoperator'", {"args.x": "$notanoperator"}),
    ("args.x == {'a.b': [1, {'c': None}]}", {"args.x": {"a.b": [1, {"c": None}]}}),
    ("[1, 2] in list(args.x)", {"args.x": [1, 2]}),
    ("args[0] == 1", {"args.0": 1}),
]


@pytest.mark.parametrize(("text", "expected"), SPEC_EXAMPLES, ids=[t for t, _ in SPEC_EXAMPLES])
def test_spec_examples(text: str, expected: dict[str, Any]) -> None:
    assert python_to_mongo(text) == expected


def test_bools_and_numbers_keep_their_types() -> None:
    # 1 == True in Python, so the == above would not catch a bool/int mix-up
    assert python_to_mongo("args.flag == True")["args.flag"] is True
    value = python_to_mongo("args.x == 1")["args.x"]
    assert type(value) is int
    assert type(python_to_mongo("args.x == 1.0")["args.x"]) is float
    assert python_to_mongo("1")["$expr"] is True


def test_json_compatible_output() -> None:
    result = python_to_mongo("args.x in (1, (2, 3)) and metadata.m == {'k': (None, 'v')}")
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_huge_float_literal_is_infinity() -> None:
    # examples.jsonl py-cmp-026 (Extended JSON {"$numberDouble": "Infinity"})
    assert python_to_mongo("args.lr < 1e999") == {"args.lr": {"$lt": math.inf}}
    assert python_to_mongo("args.lr > -1e999") == {"args.lr": {"$gt": -math.inf}}


# ---- §4.4.5 date() --------------------------------------------------------------------------


def _assert_utc(value: Any) -> dt.datetime:
    assert isinstance(value, dt.datetime)
    assert value.utcoffset() == dt.timedelta(0)
    return value


def _close_to(value: dt.datetime, expected: dt.datetime) -> bool:
    return abs(value - expected) < dt.timedelta(seconds=30)


def test_date_relative_phrase() -> None:
    result = python_to_mongo("created_at >= date('3 hours ago')")
    value = _assert_utc(result["created_at"]["$gte"])
    assert _close_to(value, dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))


def test_date_on_the_left_is_swapped() -> None:
    result = python_to_mongo("date('yesterday') <= created_at")
    assert list(result) == ["created_at"]
    value = _assert_utc(result["created_at"]["$gte"])
    assert _close_to(value, dt.datetime.now(dt.UTC) - dt.timedelta(hours=24))


@pytest.fixture
def shanghai_tz(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("shanghai_tz")
def test_date_without_timezone_is_local_time() -> None:
    expected = dt.datetime(2025, 7, 25, 15, 41, tzinfo=dt.UTC)
    assert parse_date("2025-07-25 23:41") == expected
    assert parse_date("2025/7/25 23:41") == expected
    result = python_to_mongo("created_at < date('2025-07-25 23:41')")
    assert result == {"created_at": {"$lt": expected}}
    # relative phrases are "now", whatever the local zone
    assert _close_to(parse_date("today"), dt.datetime.now(dt.UTC))
    assert _close_to(
        parse_date("10 minutes ago"), dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    )


@pytest.mark.usefixtures("shanghai_tz")
def test_date_with_timezone_is_kept() -> None:
    assert parse_date("2025-07-28 14:47 UTC") == dt.datetime(2025, 7, 28, 14, 47, tzinfo=dt.UTC)
    assert parse_date("2025-07-25T23:41:00+02:00") == dt.datetime(
        2025, 7, 25, 21, 41, tzinfo=dt.UTC
    )


def test_date_inside_in_list_and_expr() -> None:
    result = python_to_mongo("created_at in [date('2025-01-01T00:00:00Z')]")
    assert result == {"created_at": {"$in": [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)]}}
    result = python_to_mongo("last_modified > date('2025-01-01T00:00:00Z') + 1")
    expr = result["$and"][-1]["$expr"]["$gt"]
    assert expr == ["$last_modified", {"$add": [dt.datetime(2025, 1, 1, tzinfo=dt.UTC), 1]}]


@pytest.mark.parametrize("text", ["blorp blorp", "", "   ", "x" * 500])
def test_parse_date_invalid(text: str) -> None:
    with pytest.raises(FilterError, match="Invalid date string"):
        parse_date(text)


def test_invalid_date_in_filter_points_at_the_string() -> None:
    with pytest.raises(FilterError) as info:
        python_to_mongo("created_at > date('blorp blorp')")
    assert info.value.message == "Invalid date string: 'blorp blorp'"
    assert info.value.column == 19


# ---- §4.5 rejections ----------------------------------------------------------------------

NEGATION = "may lead to ambiguous behaviour due to the missing key returning null problem"

# (text, phrase the message must contain, expected column or None to skip the check)
SPEC_ERRORS: list[tuple[str, str, int | None]] = [
    ("args.x != 1", "'!=' operator is not supported", 1),
    ("args.x != 1", NEGATION, 1),
    ("args.x != 1", "If you wish to use $ne, use the full mongodb query", 1),
    ("not args.x == 1", "'not' is not supported", 1),
    ("not args.x == 1", NEGATION, 1),
    ("args.x not in [1]", "'not in' operator is not supported", 1),
    ("args.x not in [1]", "If you wish to use $nin", 1),
    ("args.x is None", "Unsupported comparison operator: <class 'ast.Is'>", 1),
    ("args.x is not None", "Unsupported comparison operator: <class 'ast.IsNot'>", 1),
    ("0 < args.x < 1", "Chained comparisons not supported (e.g., a < b < c)", 1),
    ("args.x = 1", "not allowed in query. If you meant to check equality, use '=='", 1),
    ("args.x = 1", "Suggested correction: args.x == 1", 1),
    ("args.x += 1", "Assignment not allowed", 1),
    ("'a' in metadata.tags", "Ambiguous expression. To use 'foo' in foo.bar", 1),
    ("'a' in metadata.tags", "'foo' in list(foo.bar) or 'foo' in dict(foo.bar)", 1),
    ("1 in [1, 2]", "both sides must be either a field or a list of literals", 1),
    ("args.x in 'abc'", "both sides must be either a field or a list of literals", 1),
    ("1 in dict(args.x)", "For 'key in dict(field)' pattern, key must be a string literal", 1),
    ("'a' in sorted(args.x)", "Expected function call like list(foo.bar) or dict(foo.bar)", 1),
    ("'a' in list(args.x, args.y)", "list() requires exactly one field argument", 8),
    ("args.y in list(args.x)", "the value must be a literal", 1),
    ("len(args.x) > 1", "Unsupported function call: len", 1),
    ("args.x.lower() == 'a'", "Unsupported function call: args.x.lower", 1),
    ("regex(task_name)", "regex() requires two arguments: field name and pattern", 1),
    ("regex(task_name, 'a', 'b')", "regex() requires two arguments", 1),
    ("exists()", "exists() requires one or two arguments: field name and optional boolean", 1),
    ("exists(args.x, False, 1)", "exists() requires one or two arguments", 1),
    ("exists(args.x, args.y)", "exists() second argument must be a value such as True", 16),
    ("exists(args.x, len(a))", "exists() second argument must be a value such as True", 16),
    ("args.x ** 2 > 1", "Unsupported binary operator: <class 'ast.Pow'>", 1),
    ("args.x // 2 > 1", "Unsupported binary operator: <class 'ast.FloorDiv'>", 1),
    ("args.a + 1", "Binary operations like '+' or '-' must be used in comparisons for $expr", 1),
    ("args.a == 1 & args.b == 2", "Chained comparisons", 1),
    ("(args.a == 1) & (args.b == 2)", "instead of '&' / '|'", 1),
    ("args[-1] == 1", "Negative indexing is not supported (value: -1)", 6),
    ("args[k] == 1", "Variable subscript is not supported in MongoDB queries: k", 6),
    ("args[1:2] == 1", "Unsupported subscript type: Slice", 6),
    (
        "args[1.5] == 1",
        "Only string and integer subscripts are supported, got: float with value 1.5",
        6,
    ),
    ("args[True] == 1", "got: bool with value True", 6),
    ("args['a..b'] == 1", "Empty key in field path", 6),
    ("args['$where'] == 1", "cannot start with '$'", 6),
    ("foo == 1", "Field 'foo' is unknown or not allowed.", 1),
    ("args.x == 1 and worker_name == 'w'", "Field 'worker_name' is unknown or not allowed.", 17),
    ("stauts == 'x'", "Field 'stauts' is unknown or not allowed. Maybe you meant 'status'?", 1),
    ("stauts == 'x'", "Allowed fields: task_id, queue_id, status", 1),
    ("exists('stauts')", "Field 'stauts' is unknown or not allowed.", 8),
    ("args.x == true", "Python literals are spelled True, False and None", 11),
    ("def f(): pass", "Expected an expression in the module", 1),
    ("import os", "Expected an expression in the module", 1),
    ("args.x", "Invalid query result: args.x. Query must evaluate to a dictionary.", 1),
    ("'str'", "Invalid query result: 'str'. Query must evaluate to a dictionary.", 1),
    ("1.5", "Query must evaluate to a dictionary.", 1),
    ("[1]", "Query must evaluate to a dictionary.", 1),
    ("{'args.x': 1}", "not a Python-syntax filter", 1),
    ("args.x and args.y == 1", "Expected a condition", 1),
    ("args.x == 1 == 1", "Chained comparisons", 1),
    ("1 == 1", "must involve at least one field", 1),
    ("1 + 1 > 1", "must involve at least one field", 1),
    ("args.x + 1 > 'a'", "Only numbers and date() can be used", 14),
    ("args.x > args.y + [1]", "Only numbers and date() can be used", 19),
    ("-'a' < args.x", "Unary minus needs a number", 1),
    ("+args.x > 1", "Unsupported unary operator", 1),
    ("regex(args.x, 'a') == True", "regex() is a condition on its own", 1),
    ("list(args.x) == [1]", "only allowed on the right of 'in'", 1),
    ("date('today')", "date() is a value", 1),
    ("args.x == (y := 1)", "Unsupported expression: NamedExpr", 12),
    ("args.x == [i for i in 'ab']", "Unsupported expression", 11),
    ("args.x == (lambda: 1)", "Unsupported expression", 12),
    ("args.x == {1: 2}", "Dict keys must be string literals", 12),
    ("args.x == {**args.y}", "Dict unpacking", 14),
    ("args.x == [*args.y]", "Unpacking", 12),
    ("args.x == ...", "Unsupported literal", 11),
]


@pytest.mark.parametrize(
    ("text", "phrase", "column"), SPEC_ERRORS, ids=[f"{t}|{p[:20]}" for t, p, _ in SPEC_ERRORS]
)
def test_spec_errors(text: str, phrase: str, column: int | None) -> None:
    with pytest.raises(FilterError) as info:
        python_to_mongo(text)
    err = info.value
    assert phrase in err.message
    assert str(err) == err.message
    assert err.text == text
    assert "\n" not in err.message
    if column is not None:
        assert (err.line, err.column) == (1, column)


def test_unknown_field_lists_every_allowed_root_but_worker_name() -> None:
    with pytest.raises(FilterError) as info:
        python_to_mongo("foo == 1")
    assert "Maybe you meant" not in info.value.message
    for root in ALLOWED_ROOTS:
        assert root in info.value.message
    assert "worker_name" not in ALLOWED_ROOTS


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n", "# only a comment"])
def test_empty_text(text: str) -> None:
    with pytest.raises(FilterError, match="Expected an expression in the module"):
        python_to_mongo(text)


def test_syntax_error() -> None:
    with pytest.raises(FilterError) as info:
        python_to_mongo("foo.bar - < ,")
    assert info.value.message == "Query syntax error: invalid syntax"  # no "(<unknown>, ...)"
    assert info.value.column == 11  # the '<' (from the SyntaxError)


@pytest.mark.parametrize("text", ["args.0 == 1", "args.x ==", "(args.x == 1", "a\x00 == 1"])
def test_other_syntax_errors(text: str) -> None:
    with pytest.raises(FilterError, match="^Query syntax error: "):
        python_to_mongo(text)


def test_deep_nesting_is_a_filter_error() -> None:
    with pytest.raises(FilterError):
        python_to_mongo("args.x == " + "-" * 50_000 + "1")
    with pytest.raises(FilterError):
        python_to_mongo("(" * 1000 + "args.x == 1" + ")" * 1000)


# ---- [BUG] list: upstream produced wrong filters, we reject ---------------------------------

BUG_REJECTIONS: list[tuple[str, str, int]] = [
    ("args.x in {1, 2}", "Set literals are not supported", 11),
    ("args.x == {1}", "Set literals are not supported", 11),
    ("args.x == f'a'", "f-strings are not supported", 11),
    ("args.x == f'{args.y}'", "f-strings are not supported", 11),
    ("args.x == 1; args.y == 2", "Only one expression is allowed", 14),
    ("args.x == 1\nargs.y == 2", "Only one expression is allowed", 1),
    ("args.x == 1 or 1", "A constant (1) cannot be combined with 'and' / 'or'", 16),
    ("args.lr > 0.1 and True", "A constant (True) cannot be combined", 19),
    ("args.x == 1 or 'a'", "cannot be combined", 16),
    ("args.x == 1 or {'a': 1}", "cannot be combined", 16),
    ("args.x == 1 or None", "cannot be combined", 16),
    ("exists(1)", "exists() first argument must be a field", 8),
    ("exists(date('today'))", "exists() first argument must be a field", 8),
    ("exists(None)", "exists() first argument must be a field", 8),
    ("date(1) < created_at", "date() argument must be a literal string", 1),
    ("created_at > date(args.x)", "date() argument must be a literal string", 14),
    ("created_at > date('a', 'b')", "date() argument must be a literal string", 14),
    ("[args.x] == [1]", "Lists and dicts may contain only literals, got: args.x", 2),
    ("args.x in [args.y]", "Lists and dicts may contain only literals", 12),
    ("regex(args.x, args.y)", "regex() pattern must be a string literal", 15),
    ("regex(args.x, 1)", "regex() pattern must be a string literal", 15),
    ("regex(args.x, '(')", "Invalid regular expression '('", 15),
    ("regex(args.x, '[a-')", "Invalid regular expression", 15),
    ("regex(args.x, '*')", "Invalid regular expression", 15),
    ("__import__('os').system('true')", "Unsupported function call", 1),
    ("__import__('os')", "Unsupported function call: __import__", 1),
    ("args.x == __import__('os')", "Unsupported function call: __import__", 11),
    ("getattr(args, 'x') == 1", "Unsupported function call: getattr", 1),
    ("args.x == {'$gt': 1}", "Dict keys starting with '$' are not allowed", 12),
    ("args.x in [{'$ne': 1}]", "Dict keys starting with '$' are not allowed", 13),
    ("args.x == 1j", "Unsupported literal: complex", 11),
    ("args.x == b'x'", "Unsupported literal: bytes", 11),
]


@pytest.mark.parametrize(("text", "phrase", "column"), BUG_REJECTIONS)
def test_bug_constructs_are_rejected(text: str, phrase: str, column: int) -> None:
    with pytest.raises(FilterError) as info:
        python_to_mongo(text)
    assert phrase in info.value.message
    expected_line = 2 if text == "args.x == 1\nargs.y == 2" else 1
    assert (info.value.line, info.value.column) == (expected_line, column)


def test_filter_code_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(FilterError):
        python_to_mongo(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    with pytest.raises(FilterError):
        python_to_mongo(f"args.x == open({str(marker)!r}, 'w')")
    assert not marker.exists()


# ---- positions map back to the text as given ----------------------------------------------


def test_column_counts_characters_not_bytes() -> None:
    with pytest.raises(FilterError) as info:
        python_to_mongo("args.x == 'é∑é' and foo == 1")
    assert info.value.column == 21  # 25 if UTF-8 bytes were counted


def test_positions_with_leading_whitespace_and_lines() -> None:
    with pytest.raises(FilterError) as info:
        python_to_mongo("   args.x != 1")
    assert (info.value.line, info.value.column) == (1, 4)
    text = "\n  (args.a == 1 and\n   args.b != 2)"
    with pytest.raises(FilterError) as info:
        python_to_mongo(text)
    assert (info.value.line, info.value.column) == (3, 4)
    assert info.value.text == text


# ---- render() -------------------------------------------------------------------------------


def _caret_column(rendered: str) -> int:
    """The 0-based index of '^' on the caret line, relative to the context content."""
    caret_line = rendered.splitlines()[2]
    return caret_line.index("^") - len("Err context: ")


def test_render_layout() -> None:
    with pytest.raises(FilterError) as info:
        python_to_mongo("args.lr != 1")
    assert info.value.render() == (
        "Error when parsing query at line 1, column 1:\n"
        "Err context: args.lr != 1\n"
        "             ^  <-- Error here (Column: 1)\n"
        f"Error: {info.value.message}"
    )


def test_render_caret_under_the_offending_node() -> None:
    text = "args.a == 1 and stauts == 'x'"
    with pytest.raises(FilterError) as info:
        python_to_mongo(text)
    rendered = info.value.render()
    lines = rendered.splitlines()
    assert lines[0] == "Error when parsing query at line 1, column 17:"
    assert lines[1] == f"Err context: {text}"
    assert lines[2].endswith("^  <-- Error here (Column: 17)")
    assert lines[1][lines[2].index("^")] == "s"
    assert lines[3].startswith("Error: Field 'stauts' is unknown")


def test_render_truncates_long_text() -> None:
    text = "args.a == 1 and " * 10 + "stauts == 1 and " + "args.b == 2 and " * 10 + "args.c == 3"
    with pytest.raises(FilterError) as info:
        python_to_mongo(text)
    col0 = info.value.column - 1
    assert text[col0:].startswith("stauts")
    context = info.value.render().splitlines()[1].removeprefix("Err context: ")
    assert context == "..." + text[col0 - 50 : col0 + 51] + "..."
    assert context[_caret_column(info.value.render())] == "s"


def test_render_truncates_only_the_side_that_is_long() -> None:
    err = FilterError("boom", "x" * 100 + "!", column=101)
    rendered = err.render()
    context = rendered.splitlines()[1].removeprefix("Err context: ")
    assert context == "..." + "x" * 50 + "!"
    assert context[_caret_column(rendered)] == "!"
    err = FilterError("boom", "!" + "x" * 100, column=1)
    context = err.render().splitlines()[1].removeprefix("Err context: ")
    assert context == "!" + "x" * 50 + "..."


def test_render_second_line_and_wide_characters() -> None:
    err = FilterError("boom", "first line\n漢字 == x", column=7, line=2)
    lines = err.render().splitlines()
    assert lines[0] == "Error when parsing query at line 2, column 7:"
    assert lines[1] == "Err context: 漢字 == x"
    # two wide characters take four cells, then ' == ' -> the caret sits under the 'x'
    assert lines[2].index("^") == len("Err context: ") + 4 + 4


def test_render_without_column() -> None:
    assert FilterError("Query syntax error: nope", "a b").render() == (
        "Error: Query syntax error: nope"
    )
    assert FilterError("no text", "", column=3).render() == "Error: no text"


# ---- shared worked cases (../shared/filters/examples.jsonl) ---------------------------------


def _load_examples() -> list[dict[str, Any]]:
    if not EXAMPLES_FILE.exists():
        return []
    rows = [json.loads(line) for line in EXAMPLES_FILE.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["syntax"] == "python"]


def _from_extended_json(value: Any) -> Any:
    """Decode the Extended JSON used in mongo_equivalent ({"$numberDouble": "Infinity"})."""
    if isinstance(value, dict):
        if set(value) == {"$numberDouble"}:
            return float(value["$numberDouble"])
        return {k: _from_extended_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_extended_json(v) for v in value]
    return value


PY_EXAMPLES = _load_examples()


@pytest.mark.skipif(not PY_EXAMPLES, reason=f"{EXAMPLES_FILE} not found")
def test_shared_examples_present() -> None:
    assert any(r["expect"] == "error" for r in PY_EXAMPLES)
    assert any("mongo_equivalent" in r and r["expect"] == "ok" for r in PY_EXAMPLES)


@pytest.mark.parametrize("row", PY_EXAMPLES, ids=[r["id"] for r in PY_EXAMPLES])
def test_shared_examples(row: dict[str, Any]) -> None:
    if row["expect"] == "error":
        # some error rows carry upstream's (wrong) output as mongo_equivalent: we must reject
        with pytest.raises(FilterError):
            python_to_mongo(row["filter"])
    elif "mongo_equivalent" in row:
        assert python_to_mongo(row["filter"]) == _from_extended_json(row["mongo_equivalent"])
    else:
        pytest.skip("no mongo_equivalent to compare with")


# ---- robustness -----------------------------------------------------------------------------

_ATOMS = [
    "args.x", "args['a-b']", "args.l[0]", "status", "foo", "1", "-2.5", "'s'", "None", "True",
    "[1, 2]", "(1,)", "{'k': 1}", "date('today')", "exists(args.y)", "regex(task_name, 'a')",
    "list(args.t)", "dict(args.t)", "len(args.x)",
]  # fmt: skip
_OPS = [" == ", " != ", " < ", " >= ", " in ", " not in ", " and ", " or ", " + ", " * ", " % ",
        " is ", " ** "]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_ATOMS), min_size=1, max_size=4),
    st.lists(st.sampled_from(_OPS), min_size=3, max_size=3),
    st.booleans(),
)
def test_grammar_fuzz_only_raises_filter_error(
    atoms: list[str], ops: list[str], negate: bool
) -> None:
    text = atoms[0]
    for op, atom in zip(ops, atoms[1:], strict=False):
        text += op + atom
    if negate:
        text = f"not ({text})"
    try:
        result = python_to_mongo(text)
    except FilterError:
        return
    assert isinstance(result, dict)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_text_fuzz_only_raises_filter_error(text: str) -> None:
    try:
        result = python_to_mongo(text)
    except FilterError as err:
        err.render()
        return
    assert isinstance(result, dict)
