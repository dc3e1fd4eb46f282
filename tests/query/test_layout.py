"""The compiler's layout rules: every IR node has its handler, dialect rules stay in the dialect
modules, and the SQLite functions' runtime loads no SQLAlchemy."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

from labtasker_tui.query import ir
from labtasker_tui.query.compiler import HANDLERS

QUERY = Path(__file__).resolve().parents[2] / "labtasker_tui" / "query"
#: Modules of query/ that are not part of the compiler (moving to store/).
NOT_COMPILER = {"facets.py", "facet_summary.py", "indexes.py"}


def test_every_ir_node_has_a_handler() -> None:
    assert set(typing.get_args(ir.IR)) == set(HANDLERS)


def test_no_dialect_branches_outside_the_dialect_modules() -> None:
    """Only query/dialects/ names a dialect (no ``if dialect == "postgresql"`` elsewhere)."""
    for path in QUERY.glob("*.py"):
        if path.name in NOT_COMPILER:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = isinstance(node, ast.Constant) and node.value in ("postgresql", "sqlite")
            flag = isinstance(node, ast.Attribute) and node.attr == "pg"
            assert not (named or flag), f"{path.name}:{getattr(node, 'lineno', '?')}"


def test_sqlite_functions_load_no_sqlalchemy() -> None:
    code = ("import sys, sqlite3\n"
            "from labtasker_tui.query.sqlite_functions import register_sqlite_functions\n"
            "con = sqlite3.connect(':memory:')\n"
            "register_sqlite_functions(con)\n"
            "assert con.execute(\"select regex_search('^a', 'i', 'Ab'), "
            "bson_compare('[1]', '{}')\").fetchone() == (1, 1)\n"
            "assert not any(m.startswith('sqlalchemy') for m in sys.modules), 'sqlalchemy'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
