"""The SQL dialects the filter compiler speaks: one module each, on :mod:`.base`."""

from __future__ import annotations

import functools
from typing import Any

from labtasker_tui.query.dialects.base import Dialect


@functools.cache
def get_dialect(name: str) -> Dialect[Any]:
    """The dialect called ``name`` by SQLAlchemy (``sqlite`` or ``postgresql``)."""
    if name == "sqlite":
        from labtasker_tui.query.dialects.sqlite import SqliteDialect

        return SqliteDialect()
    if name == "postgresql":
        from labtasker_tui.query.dialects.postgres import PostgresDialect

        return PostgresDialect()
    raise ValueError(f"unsupported dialect {name!r} (sqlite or postgresql)")
