"""Numeric path segments (``args.a.0``, ``args.a[0]``) where the element is itself an array.

MongoDB does not traverse an array reached by an array index: ``{"a.0": 42}`` matches
``a: [42]`` but not ``a: [[42]]`` (the candidate is ``[42]`` itself), while a key "0" of an
object reaches a leaf array that is traversed. The table is MongoDB's own
jstests/core/match_numeric_components.js; the expected ids are the ones that test asserts.
Checked on SQLite and PostgreSQL and against the reference evaluator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import reference_eval as ref
from sqlalchemy.engine import Engine
from test_query_sql import BACKENDS, make_db, mongo_view, sql_match, task_row

from labtasker_tui.query import parse_filter

A: list[Any] = [
    42, [42], {"0": 42}, [[42]], [{"0": 42}], {"0": [42]}, {"0": {"0": 42}}, [[[42]]],
    [[{"0": 42}]], [{"0": [42]}], [{"0": {"0": 42}}], {"0": [[42]]}, {"0": [{"0": 42}]},
    {"0": {"0": [42]}}, {"0": {"0": {"0": 42}}}, [[[[42]]]], [[[{"0": 42}]]],
    [[{"0": [42]}]], [[{"0": {"0": 42}}]], [{"0": [[42]]}], [{"0": [{"0": 42}]}],
    [{"0": {"0": [42]}}], [{"0": {"0": {"0": 42}}}], {"0": [[[42]]]}, {"0": [[{"0": 42}]]},
    {"0": [{"0": [42]}]}, {"0": [{"0": {"0": 42}}]}, {"0": {"0": [[42]]}},
    {"0": {"0": [{"0": 42}]}}, {"0": {"0": {"0": [42]}}}, {"0": {"0": {"0": {"0": 42}}}},
]
ROWS = [(f"d{i:02}", {"a": a}) for i, a in enumerate(A)] + [
    ("nums", {"a": 0, "nums": [[1, 2], [3]]}), ("flat", {"a": 0, "nums": [1, 2]})]

A0 = [1, 2, 4, 5, 9]
NOT_A0 = [i for i in range(len(A)) if i not in A0]


def _ids(ids: list[int]) -> list[str]:
    return [f"d{i:02}" for i in ids]


@pytest.fixture(scope="module", params=BACKENDS)
def numeric_db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from make_db(request.param, [task_row(i, task_name=n, args=a)
                                       for i, (n, a) in enumerate(ROWS)])


CASES: list[tuple[Any, list[str]]] = [
    ({"args.a.0": 42}, _ids(A0)),
    ({"args.a.0": {"$ne": 42}}, _ids(NOT_A0) + ["flat", "nums"]),
    ({"args.a.0.0": 42}, _ids([3, 4, 5, 6, 8, 9, 10, 12, 13, 17, 20, 21, 25])),
    ({"args.a.0": {"$gt": 41}}, _ids(A0)),
    ({"args.a.0": {"$in": [41, 42, 43]}}, _ids(A0)),
    ({"args.a.0": {"$nin": [41, 42, 43]}}, _ids(NOT_A0) + ["flat", "nums"]),
    ({"args.a.0": {"$all": [42]}}, _ids(A0)),
    ({"args.a.0": {"$all": [{"$elemMatch": {"0": 42}}]}},
     _ids([7, 8, 11, 12, 15, 17, 19, 20, 23, 25])),
    ({"args.a.0": {"$type": "number"}}, _ids(A0)),
    ({"args.a.0": {"$mod": [42, 0]}}, _ids(A0)),
    ({"$or": [{"args.a.0": 42}, {"args.notARealField": 123}]}, _ids(A0)),
    # the same in the Python syntax, and on [[1, 2], [3]]
    ("args.a[0] == 42", _ids(A0)),
    ("args.nums[0] == 1", ["flat"]),
    ({"args.nums.0": 1}, ["flat"]),
    ("args.nums[0] == [1, 2]", ["nums"]),
    ("args.nums[0][1] == 2", ["nums"]),
    ("args.nums == 3", []),
    ("args.nums == [3]", ["nums"]),
    ({"args.nums.0": {"$size": 2}}, ["nums"]),
    ({"args.nums.0": {"$elemMatch": {"$eq": 2}}}, ["nums"]),
    ({"args.nums": {"$elemMatch": {"$elemMatch": {"$gt": 2}}}}, ["nums"]),
    ({"args.nums": {"$elemMatch": {"1": 2}}}, ["nums"]),
    ({"args.nums": {"$elemMatch": {"0": 3}}}, ["nums"]),
    ({"args.nums": {"$elemMatch": {"0": 2}}}, []),
]


@pytest.mark.parametrize(("f", "expected"), CASES, ids=lambda v: str(v)[:50])
def test_numeric_segments_match_mongodb(numeric_db: Engine, f: Any,
                                        expected: list[str]) -> None:
    compiled = parse_filter(f)
    assert compiled is not None
    docs = [mongo_view(task_row(i, task_name=n, args=a)) for i, (n, a) in enumerate(ROWS)]
    assert sorted(d["task_name"] for d in docs if ref.matches(compiled.ir, d)) == expected
    assert sql_match(numeric_db, f) == expected
