"""Embedded-document equality ignores key order on both backends (PostgreSQL's jsonb cannot
keep it; SQLite keeps the text as written and is made to agree): ``{"a": 1, "b": 2}`` equals
``{"b": 2, "a": 1}`` wherever equality is used. The reference evaluator does the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import reference_eval as ref
from sqlalchemy.engine import Engine
from test_query_sql import BACKENDS, make_db, mongo_view, sql_match, task_row

from labtasker_tui.query import parse_filter

ROWS = [
    ("ab", {"o": {"a": 1, "b": {"x": 1, "y": [1, {"p": 1, "q": 2}]}},
            "p": {"b": {"y": [1, {"q": 2, "p": 1}], "x": 1}, "a": 1}}),
    ("ba", {"o": {"b": {"y": [1, {"q": 2, "p": 1}], "x": 1}, "a": 1}, "p": {"a": 2}}),
    ("list", {"o": [{"b": {"x": 1, "y": [1, {"q": 2, "p": 1}]}, "a": 1.0}, 5]}),
    ("extra", {"o": {"a": 1, "b": {"x": 1, "y": [1, {"p": 1, "q": 2}]}, "c": 0}}),
    ("other", {"o": {"a": 1, "b": {"x": 1, "y": [{"p": 1, "q": 2}, 1]}}}),
]
DOC = {"b": {"y": [1, {"p": 1, "q": 2}], "x": 1}, "a": 1}
REORDERED = {"a": 1, "b": {"x": 1, "y": [1, {"q": 2, "p": 1}]}}
SAME = ["ab", "ba", "list"]


@pytest.fixture(scope="module", params=BACKENDS)
def order_db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from make_db(request.param, [task_row(i, task_name=n, args=a)
                                       for i, (n, a) in enumerate(ROWS)])


CASES: list[tuple[Any, list[str]]] = [
    ({"args.o": DOC}, SAME),
    ({"args.o": REORDERED}, SAME),
    ({"args.o": {"$eq": DOC}}, SAME),
    ({"args.o": {"$in": [7, DOC]}}, SAME),
    ({"args.o": {"$all": [REORDERED]}}, SAME),
    ({"args.o": {"$ne": DOC}}, ["extra", "other"]),
    ({"args.o": {"$nin": [REORDERED]}}, ["extra", "other"]),
    ({"args.o": {"$elemMatch": {"$eq": DOC}}}, ["list"]),
    ({"args.o.b": {"y": [1, {"q": 2, "p": 1}], "x": 1}}, SAME + ["extra"]),
    ({"args.o.b.y": {"q": 2, "p": 1}}, SAME + ["extra", "other"]),
    ("args.o == {'b': {'x': 1, 'y': [1, {'q': 2, 'p': 1}]}, 'a': 1}", SAME),
    ("{'a': 1, 'b': {'y': [1, {'p': 1, 'q': 2}], 'x': 1}} == args.o", SAME),
    # $expr compares two stored documents written in different orders
    ({"$expr": {"$eq": ["$args.o", "$args.p"]}}, ["ab"]),
    ({"$expr": {"$eq": ["$args.o", {"$literal": REORDERED}]}}, ["ab", "ba"]),
]


@pytest.mark.parametrize(("f", "expected"), CASES, ids=lambda v: str(v)[:50])
def test_object_equality_ignores_key_order(order_db: Engine, f: Any,
                                           expected: list[str]) -> None:
    compiled = parse_filter(f)
    assert compiled is not None
    docs = [mongo_view(task_row(i, task_name=n, args=a)) for i, (n, a) in enumerate(ROWS)]
    assert sorted(d["task_name"] for d in docs if ref.matches(compiled.ir, d)) == \
        sorted(expected)
    assert sql_match(order_db, f) == sorted(expected)
