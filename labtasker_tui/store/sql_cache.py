"""The compiled-filter cache of the direct SQLite path: filter text -> SQLite WHERE text and
parameters, so that a filter repeated in a shell loop never loads the parser or SQLAlchemy.

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
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / FILE_NAME


def _load(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    if (not isinstance(data, dict) or data.get("header") != header()
            or not isinstance(data.get("entries"), dict)):
        return {}
    entries: dict[str, Any] = data["entries"]
    return entries


def lookup(text: str) -> tuple[str, list[Any]] | None:
    """The cached (WHERE text, parameters) of ``text``, or None."""
    entry = _load(cache_file()).get(text)
    if (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
            and isinstance(entry[1], list)):
        return entry[0], entry[1]
    return None


def remember(text: str, where: str, params: list[Any] | tuple[Any, ...]) -> None:
    """Store a reproducible filter's SQL; failures are ignored (the next run compiles)."""
    if len(text) > MAX_TEXT:
        return
    path = cache_file()
    entries = _load(path)
    entries.pop(text, None)
    entries[text] = [where, list(params)]
    while len(entries) > MAX_ENTRIES:
        entries.pop(next(iter(entries)))
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"header": header(), "entries": entries}, fh, ensure_ascii=False)
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
        try:
            tmp.unlink()
        except OSError:
            pass
