"""``exists(path, flag)`` in the Python syntax takes any literal flag, as Labtasker does: the
flag goes to ``$exists`` as written, which reads it as BSON's trueValue (False, 0, 0.0 and
None are false; everything else, "" and [] included, is true). Checked against the reference
evaluator on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import reference_eval as ref
from sqlalchemy.engine import Engine
from test_query_sql import BACKENDS, make_db, mongo_view, sql_match, task_row

from labtasker_tui.query import FilterError, parse_filter

ROWS = [("one", {"lr": 1}), ("zero", {"lr": 0}), ("null", {"lr": None}), ("missing", {}),
        ("nested", {"opt": {"lr": 2}})]
PRESENT = ["null", "one", "zero"]
ABSENT = ["missing", "nested"]


@pytest.fixture(scope="module", params=BACKENDS)
def exists_db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield from make_db(request.param, [task_row(i, task_name=n, args=a)
                                       for i, (n, a) in enumerate(ROWS)])


@pytest.mark.parametrize(("flag", "expected"), [
    ("False", ABSENT), ("0", ABSENT), ("0.0", ABSENT), ("None", ABSENT), ("-0", ABSENT),
    ("True", PRESENT), ("1", PRESENT), ("-2.5", PRESENT), ("'no'", PRESENT), ("''", PRESENT),
    ("[]", PRESENT), ("{}", PRESENT),
])
def test_any_literal_flag_is_read_as_bson_truth(exists_db: Engine, flag: str,
                                                expected: list[str]) -> None:
    text = f"exists(args.lr, {flag})"
    compiled = parse_filter(text)
    assert compiled is not None
    docs = [mongo_view(task_row(i, task_name=n, args=a)) for i, (n, a) in enumerate(ROWS)]
    assert sorted(d["task_name"] for d in docs if ref.matches(compiled.ir, d)) == expected
    assert sql_match(exists_db, text) == expected


def test_the_flag_goes_to_exists_as_written() -> None:
    compiled = parse_filter("exists(args.lr, 0)")
    assert compiled is not None and compiled.mongo == {"args.lr": {"$exists": 0}}


@pytest.mark.parametrize("text", ["exists(args.lr, args.on)", "exists(args.lr, bool(0))"])
def test_a_field_or_call_as_flag_is_an_error(text: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert "exists() second argument must be a value such as True or False" in err.value.message
    assert err.value.column == text.index(", ") + 3
