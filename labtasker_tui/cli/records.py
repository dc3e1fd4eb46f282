"""Reading JSON-lines/array files of task specs or records, and naming the bad one."""

from __future__ import annotations

import json
from typing import Any

from .context import (
    BadInput,
)


def _read_records(file: Any, what: str) -> tuple[list[dict[str, Any]], list[str]]:
    """JSON lines, or one JSON array, from a file opened in binary; returns the records and a
    label for each ("line 3" for JSON lines, "record 3" in an array) for error messages.

    Input that is not UTF-8, not JSON or nested too deeply is a one-line error naming the file
    and the line."""
    import gc

    from ..formats import iter_json_records

    name = _file_name(file)
    data = file.read()
    if isinstance(data, str):  # a text stream (tests, callers passing StringIO)
        text = data
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise BadInput(f"{name}: not UTF-8 text: byte {exc.start} (line {line}) is "
                           f"{data[exc.start:exc.start + 1]!r}") from None
    # a batch allocates millions of small objects that all live until the process ends:
    # the cyclic GC would rescan them again and again (a third of the import time)
    gc.disable()
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{name}: line {exc.lineno}, column "
                           f"{exc.colno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise BadInput(f"{name}: invalid JSON: nested too deeply") from None
        labels = [f"record {i}" for i in range(1, len(records) + 1)]
    else:
        try:
            pairs = list(iter_json_records(text.splitlines()))
        except ValueError as exc:
            raise BadInput(f"{name}: {exc}") from None
        records = [rec for _, rec in pairs]
        labels = [f"line {lineno}" for lineno, _ in pairs]
    for label, rec in zip(labels, records, strict=True):
        if not isinstance(rec, dict):
            raise BadInput(f"{name}: {label}: expected a JSON object ({what}), "
                           f"got {type(rec).__name__}")
    return records, labels


def _file_name(file: Any) -> str:
    name = getattr(file, "name", None)
    return "<stdin>" if name in (None, "-", "<stdin>", 0) or not isinstance(name, str) else name


class _name_records:  # noqa: N801 - used as a context manager
    """Rewrite the store's "record N: "/"task N: " error prefix into "FILE: line L: "."""

    def __init__(self, file: Any, labels: list[str], pattern: str) -> None:
        import re

        self.name = _file_name(file)
        self.labels = labels
        self.pattern = re.compile(pattern)

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        from ..errors import UserError

        if exc is None or not isinstance(exc, UserError):
            return False
        msg = str(exc)
        m = self.pattern.match(msg)
        if m and 0 < int(m.group(1)) <= len(self.labels):
            msg = f"{self.labels[int(m.group(1)) - 1]}: {msg[m.end():]}"
        elif len(self.labels) == 1:
            msg = f"{self.labels[0]}: {msg}"
        raise BadInput(f"{self.name}: {msg}") from None
