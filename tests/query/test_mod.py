"""The query operator ``$mod`` (MongoDB semantics) on SQLite and PostgreSQL, checked against the
reference evaluator, and its argument errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import reference_eval as ref
from sqlalchemy.engine import Engine
from test_query_sql import BACKENDS, make_db, mongo_view, sql_match, task_row

from labtasker_tui.query import FilterError, parse_filter

ROWS = [
    ("seven", {"x": 7}), ("minus-one", {"x": -1}), ("minus-seven", {"x": -7}),
    ("half", {"x": 5.5}), ("minus-half", {"x": -5.5}), ("zero", {"x": 0}),
    ("string", {"x": "7"}), ("bool", {"x": True}), ("null", {"x": None}), ("missing", {}),
    ("array", {"x": [2, 9]}), ("nested", {"x": [[7]]}), ("objects", {"x": [{"y": 4}]}),
    ("big", {"x": 2**63 - 1}), ("huge", {"x": 1e19}),
]


@pytest.fixture(scope="module", params=BACKENDS)
def mod_db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    rows = [task_row(i, task_name=name, args=args, priority=i - 7)
            for i, (name, args) in enumerate(ROWS)]
    yield from make_db(request.param, rows)


CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"args.x": {"$mod": [2, 1]}}, ["array", "big", "half", "seven"]),
    # truncation toward zero: the remainder takes the dividend's sign
    ({"args.x": {"$mod": [2, -1]}}, ["minus-half", "minus-one", "minus-seven"]),
    ({"args.x": {"$mod": [-3, -1]}}, ["minus-one", "minus-seven"]),
    ({"args.x": {"$mod": [4, 0]}}, ["zero"]),
    # a non-integer divisor and remainder are truncated
    ({"args.x": {"$mod": [2.9, 1.9]}}, ["array", "big", "half", "seven"]),
    # implicit array traversal (not into nested arrays), and through objects
    ({"args.x": {"$mod": [3, 0]}}, ["array", "zero"]),
    ({"args.x.y": {"$mod": [2, 0]}}, ["objects"]),
    # within 64 bits only
    ({"args.x": {"$mod": [2**62, 2**62 - 1]}}, ["big"]),
    ({"args.x": {"$not": {"$mod": [2, 1]}}},
     ["bool", "huge", "minus-half", "minus-one", "minus-seven", "missing", "nested",
      "null", "objects", "string", "zero"]),
    ({"args.x": {"$elemMatch": {"$mod": [3, 2]}}}, ["array"]),
    ({"args.x": {"$elemMatch": {"$mod": [3, 1]}}}, []),
    ({"args.x": {"$elemMatch": {"$mod": [3, 0]}}}, ["array"]),
    # a plain column: priority = index - 7
    ({"priority": {"$mod": [5, -2]}}, ["seven", "zero"]),
]


@pytest.mark.parametrize(("mongo", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_mod_matches_expected_and_reference(mod_db: Engine, mongo: dict[str, Any],
                                            expected: list[str]) -> None:
    compiled = parse_filter(mongo)
    assert compiled is not None
    docs = [mongo_view(task_row(i, task_name=n, args=a, priority=i - 7))
            for i, (n, a) in enumerate(ROWS)]
    assert sorted(d["task_name"] for d in docs if ref.matches(compiled.ir, d)) == expected
    assert sql_match(mod_db, mongo) == expected


@pytest.mark.parametrize(("text", "message"), [
    ('{"args.x": {"$mod": [0, 1]}}', "divisor cannot be 0"),
    ('{"args.x": {"$mod": [0.5, 1]}}', "divisor cannot be 0"),
    ('{"args.x": {"$mod": [2]}}', "malformed mod, not enough elements"),
    ('{"args.x": {"$mod": [2, 1, 0]}}', "malformed mod, too many elements"),
    ('{"args.x": {"$mod": 2}}', "malformed mod, needs to be an array"),
    ('{"args.x": {"$mod": ["2", 1]}}', "malformed mod, divisor not a number"),
    ('{"args.x": {"$mod": [2, true]}}', "malformed mod, remainder not a number"),
    ('{"args.x": {"$mod": [NaN, 1]}}', "malformed mod, divisor value is invalid"),
    ('{"args.x": {"$mod": [2, 1e19]}}', "malformed mod, remainder value is invalid"),
])
def test_mod_argument_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert message in err.value.message
    assert err.value.column == text.index('"$mod"') + 1  # the caret points at the operator
