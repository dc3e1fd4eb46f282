"""The compiled-filter cache of the direct SQLite path: filter text -> SQLite WHERE text and
parameters, so that a filter repeated in a shell loop never loads the parser or SQLAlchemy;
and sort keys -> ORDER BY text (``ls -S`` over JSON paths), kept apart from the filters.

One small JSON file in the per-user cache directory. Its header names what the SQL depends on
(dialect, schema version, package version, SQLite library version): a file written under any
other header is ignored. Only reproducible filters are stored (never one with a ``date()``
phrase), and only valid ones (an invalid filter never compiles). Writes are atomic (a
temporary file renamed over the old one); a missing, corrupt or unwritable cache is a miss,
never an error. Plain stdlib: this module is on the fast path.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ..settings import APP_NAME, SCHEMA_VERSION

FILE_NAME = "filter-sql.json"
#: Entries kept (the most recent); a filter longer than MAX_TEXT characters is not stored.
MAX_ENTRIES = 200
MAX_TEXT = 16_000
DIALECT = "sqlite"


def header() -> dict[str, Any]:
    from .. import __version__

    return {"dialect": DIALECT, "schema": SCHEMA_VERSION, "package": __version__,
            "sqlite": sqlite3.sqlite_version}


def cache_file() -> Path:
    if sys.platform == "linux":  # platformdirs' answer without importing it (and tempfile,
        # shutil, random... with it: a fifth of a shell-loop command's own time)
        base = os.environ.get("XDG_CACHE_HOME", "")
        folder = base if base.strip() else os.path.expanduser("~/.cache")
        return Path(folder) / APP_NAME / FILE_NAME
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / FILE_NAME


#: The file's sections: compiled filters (WHERE text) and compiled sort keys (ORDER BY text).
SECTIONS = ("entries", "orders")


def _load(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("header") != header():
        return {}
    return {k: data[k] for k in SECTIONS if isinstance(data.get(k), dict)}


def _get(section: str, key: str) -> tuple[str, list[Any]] | None:
    entry = _load(cache_file()).get(section, {}).get(key)
    if (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
            and isinstance(entry[1], list)):
        return entry[0], entry[1]
    return None


def lookup(text: str) -> tuple[str, list[Any]] | None:
    """The cached (WHERE text, parameters) of ``text``, or None."""
    return _get("entries", text)


def lookup_order(key: str) -> tuple[str, list[Any]] | None:
    """The cached (ORDER BY text, parameters) of sort keys ``key`` (their text form)."""
    return _get("orders", key)


def remember(text: str, where: str, params: list[Any] | tuple[Any, ...]) -> None:
    """Store a reproducible filter's SQL; failures are ignored (the next run compiles)."""
    _put("entries", text, where, params)


def remember_order(key: str, order: str, params: list[Any] | tuple[Any, ...]) -> None:
    """Store the ORDER BY text of sort keys ``key``; failures are ignored."""
    _put("orders", key, order, params)


def _put(section: str, text: str, sql: str, params: list[Any] | tuple[Any, ...]) -> None:
    if len(text) > MAX_TEXT:
        return
    path = cache_file()
    data = _load(path)
    entries = data.setdefault(section, {})
    entries.pop(text, None)
    entries[text] = [sql, list(params)]
    while len(entries) > MAX_ENTRIES:
        entries.pop(next(iter(entries)))
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"header": header(), "entries": data.get("entries", {}),
                       "orders": data.get("orders", {})}, fh, ensure_ascii=False)
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
        try:
            tmp.unlink()
        except OSError:
            pass
