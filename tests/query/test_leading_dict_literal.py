"""A Python-syntax filter may begin with a dict literal (``{'a': 1} == args.opt``): text that
is not one ``{...}`` document is parsed as Python, not handed to the Mongo parser. Checked
against the reference evaluator on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import reference_eval as ref
from sqlalchemy.engine import Engine
from test_query_sql import BACKENDS, make_db, mongo_view, sql_match, task_row

from labtasker_tui.query import FilterError, is_mongo_document, parse_filter

ROWS = [("a1", {"opt": {"a": 1}, "n": 2}), ("a1b2", {"opt": {"a": 1, "b": 2}, "n": 0}),
        ("in-list", {"opt": [{"a": 1}, 3], "n": 2}), ("a2", {"opt": {"a": 2}, "n": 2}),
        ("missing", {"n": 2})]


@pytest.fixture(scope="module", params=BACKENDS)
def dict_db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from make_db(request.param, [task_row(i, task_name=n, args=a)
                                       for i, (n, a) in enumerate(ROWS)])


@pytest.mark.parametrize(("text", "mongo", "expected"), [
    ("{'a': 1} == args.opt", {"args.opt": {"a": 1}}, ["a1", "in-list"]),
    ('{"a": 1} == args.opt', {"args.opt": {"a": 1}}, ["a1", "in-list"]),
    ("  {'a': 1, 'b': 2} == args.opt", {"args.opt": {"a": 1, "b": 2}}, ["a1b2"]),
    ("{'a': 1} == args.opt and args.n > 1",
     {"$and": [{"args.opt": {"a": 1}}, {"args.n": {"$gt": 1}}]}, ["a1", "in-list"]),
    ("{'a': 2} == args.opt or {'a': 1, 'b': 2} == args.opt",
     {"$or": [{"args.opt": {"a": 2}}, {"args.opt": {"a": 1, "b": 2}}]}, ["a1b2", "a2"]),
    # still documents
    ('{"args.opt": {"a": 1}}', {"args.opt": {"a": 1}}, ["a1", "in-list"]),
    ("{'args.opt.a': 2}", {"args.opt.a": 2}, ["a2"]),
    ('{"args.n": {"$lt": 1}}', {"args.n": {"$lt": 1}}, ["a1b2"]),
])
def test_python_filter_starting_with_a_dict(dict_db: Engine, text: str, mongo: dict,
                                            expected: list[str]) -> None:
    compiled = parse_filter(text)
    assert compiled is not None and compiled.mongo == mongo
    docs = [mongo_view(task_row(i, task_name=n, args=a)) for i, (n, a) in enumerate(ROWS)]
    assert sorted(d["task_name"] for d in docs if ref.matches(compiled.ir, d)) == expected
    assert sql_match(dict_db, text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ('{"args.x": 1} junk', "Invalid JSON filter"),  # not Python either: the JSON error
    ("{'a': 1} != args.opt", "'!=' operator is not supported"),  # Python: its own rules apply
    ("{'a': 1} == {'a': 1}", "must involve at least one field"),
])
def test_errors_come_from_the_syntax_the_text_is_in(text: str, message: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert message in err.value.message


@pytest.mark.parametrize(("text", "document"), [
    ('{"args.x": 1}', True), ("{'args.x': 1}", True), ('{"args.x": 1} junk', True),
    ("{'a': 1} == args.opt", False), ("args.x == 1", False), ("[{'a': 1}]", False),
])
def test_is_mongo_document(text: str, document: bool) -> None:
    assert is_mongo_document(text) is document
