"""Spelling JSON paths for SQL: literals, SQLite JSON paths and index names.

The one place a JSON path is spelled as SQL text. Kept free of SQLAlchemy so the sqlite3 fast
paths (facets) share it with the compiler.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

INDEX_PREFIX = "ix_json_"
_MAX_NAME = 63  # PostgreSQL identifier limit


def sqlstr(s: str) -> str:
    """A SQL string literal (rendered into the statement, hence part of its cache key)."""
    if "\x00" in s:
        raise ValueError("NUL character in a JSON path")
    return "'" + s.replace("'", "''") + "'"


def sqlite_key_safe(key: str) -> bool:
    """A key SQLite spells identically in a JSON path.

    SQLite 3.40 matches path labels against the raw JSON text: only plain printable ASCII (no
    quote, no backslash) is spelled identically whatever the serializer escapes."""
    return all(0x20 <= ord(ch) <= 0x7E and ch not in '"\\' for ch in key)


def json_path_literal(segments: Sequence[str | int]) -> str:
    """The SQLite JSON path for object keys (str) and array indexes (int): ``$."a"[0]``."""
    out = "$"
    for seg in segments:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            if not sqlite_key_safe(seg):
                raise ValueError(f"key {seg!r} cannot be spelled in a SQLite JSON path")
            out += f'."{seg}"'
    return out


def pg_key_literal(key: str) -> str:
    """A PostgreSQL ``jsonb -> key`` operand."""
    return sqlstr(key)


def index_name_for(segs: Sequence[str]) -> str:
    """``ix_json_<column>_<path-slug>`` (plus a short hash when the slug is lossy or long)."""
    slug = "_".join(re.sub(r"[^A-Za-z0-9_]", "_", s) for s in segs)
    name = INDEX_PREFIX + slug
    lossy = any(re.search(r"[^A-Za-z0-9_]", s) for s in segs) or "_" in "".join(segs[1:])
    if lossy or len(name) > _MAX_NAME:
        digest = hashlib.sha1(".".join(segs).encode()).hexdigest()[:8]
        name = name[: _MAX_NAME - 9] + "_" + digest
    return name
