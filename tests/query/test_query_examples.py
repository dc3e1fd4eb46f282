"""The worked filter cases of ../shared/filters over its 400 tasks (real MongoDB semantics).

Every row of ``examples.jsonl`` is run on SQLite, and on PostgreSQL when
``LABTASKER_TUI_TEST_PG`` is set: the matching task names must equal ``task_names``, and
``expect: error`` rows must raise :class:`FilterError`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import reference_eval as ref
from sqlalchemy.engine import Engine
from test_query_sql import BACKENDS, make_db, mongo_view, sql_match, task_row

from labtasker_tui.query import FilterError, parse_filter

SHARED = Path(__file__).resolve().parents[3] / "shared" / "filters"
HAVE_PYTHON_SYNTAX = importlib.util.find_spec("labtasker_tui.query.python_syntax") is not None

pytestmark = pytest.mark.skipif(not (SHARED / "examples.jsonl").exists(),
                                reason=f"{SHARED} is not present")


def _examples() -> list[dict[str, Any]]:
    path = SHARED / "examples.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@functools.cache
def _rows() -> list[dict[str, Any]]:
    with (SHARED / "tasks.json").open(encoding="utf-8") as fh:
        tasks = json.load(fh)
    return [task_row(i, task_name=t["task_name"], status=t["status"], priority=t["priority"],
                     args=t["args"], metadata=t["metadata"], summary=t["summary"])
            for i, t in enumerate(tasks)]


@functools.cache
def _docs() -> list[dict[str, Any]]:
    return [mongo_view(r) for r in _rows()]


EXAMPLES = _examples()


def _param(row: dict[str, Any]) -> Any:
    marks = []
    if row["syntax"] == "python" and not HAVE_PYTHON_SYNTAX:
        marks.append(pytest.mark.skip(reason="labtasker_tui.query.python_syntax not there yet"))
    return pytest.param(row, id=row["id"], marks=marks)


@pytest.fixture(scope="module", params=BACKENDS)
def dataset(request) -> Iterator[Engine]:
    yield from make_db(request.param, _rows())


@pytest.mark.parametrize("row", [_param(r) for r in EXAMPLES])
def test_example(dataset: Engine, row: dict[str, Any]) -> None:
    if row["expect"] == "error":
        with pytest.raises(FilterError):
            sql_match(dataset, row["filter"])
        return
    assert sql_match(dataset, row["filter"]) == sorted(row["task_names"])


@pytest.mark.parametrize("row", [_param(r) for r in EXAMPLES if r["expect"] == "ok"])
def test_example_reference(row: dict[str, Any]) -> None:
    """The reference evaluator (used by the property tests) agrees with the dataset."""
    compiled = parse_filter(row["filter"])
    docs = _docs()
    assert sorted(d["task_name"] for d in docs if ref.matches(compiled.ir, d)) == \
        sorted(row["task_names"])
