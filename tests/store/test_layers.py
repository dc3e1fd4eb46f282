"""One door to the database: query/ never imports store/, and only store/ issues SQL."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "labtasker_tui"
#: Calls that send a statement to a database.
EXECUTE = {"execute", "executemany", "exec_driver_sql", "stream", "run_sync", "connect"}
#: The SQLite functions of the compiler probe the connection the engine hands them
#: (store/engine.py registers them): not a statement of their own.
EXEMPT = {"sqlite_functions.py"}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, relative ones resolved against the package."""
    rel = path.relative_to(PKG.parent).with_suffix("").parts
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(rel[:len(rel) - node.level]) if node.level else []
            mod = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_query_does_not_import_store():
    bad = {str(p.relative_to(PKG)): sorted(m for m in _imports(p)
                                           if m.startswith("labtasker_tui.store"))
           for p in (PKG / "query").rglob("*.py")}
    assert not {k: v for k, v in bad.items() if v}


def test_sql_is_sent_from_store_only():
    """Outside store/, no module opens sqlite3 or holds a connection of the store."""
    found = []
    for path in PKG.rglob("*.py"):
        if path.is_relative_to(PKG / "store") or path.name in EXEMPT:
            continue
        src = path.read_text()
        for node in ast.walk(ast.parse(src)):
            if (isinstance(node, ast.AsyncWith) and any(
                    isinstance(i.context_expr, ast.Call)
                    and isinstance(i.context_expr.func, ast.Attribute)
                    and i.context_expr.func.attr in ("read", "write", "connect", "begin")
                    for i in node.items)):
                found.append(f"{path.relative_to(PKG)}:{node.lineno}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in EXECUTE and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("conn", "con", "cur", "sqlite3")):
                found.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert not found


def test_the_tui_asks_the_store_for_workers_and_log_paths():
    imports = _imports(PKG / "tui" / "worker_info.py") | _imports(PKG / "tui" / "app.py")
    assert not any(m.startswith(("labtasker_tui.worker.", "labtasker_tui.schema"))
                   for m in imports)


def test_store_imports_neither_the_worker_engine_nor_the_interfaces():
    up = ("labtasker_tui.worker", "labtasker_tui.tui", "labtasker_tui.cli", "textual", "click")
    bad = {str(p.relative_to(PKG)): sorted(m for m in _imports(p)
                                           if any(m == u or m.startswith(u + ".") for u in up))
           for p in (PKG / "store").rglob("*.py")}
    assert not {k: v for k, v in bad.items() if v}
