"""The canonical form of a task's args and its 64-bit hash (the ``args_hash`` column).

Two args documents get the same hash exactly when the filter ``args == {...}`` finds them
equal on SQLite and PostgreSQL (and in MongoDB): objects compare with unordered keys; numbers
by value, so ``1 == 1.0`` (and ``-0.0``, stored as ``0.0``, is ``0``); ``true`` is not ``1``
(a bool is its own type); arrays keep their order; strings compare exactly. The hash is a
lookup key only: deduplication compares the canonical texts of the candidates it finds, so a
collision can never merge two different configurations.

Pure Python (hashlib, json): every write path imports it, the direct SQLite one included.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_str = json.JSONEncoder(ensure_ascii=True).encode


def _number(value: int | float) -> str:
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return _str(repr(value))  # never stored (validation refuses them); kept distinct
        if value.is_integer():
            return str(int(value))  # 1.0 -> "1", -0.0 -> "0", 1e20 -> its digits
        return repr(value)  # the shortest text that reads back as this float
    return str(value)


def canonical_text(value: Any) -> str:
    """A text that is equal for two values exactly when the store finds them equal."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return _str(value)
    if isinstance(value, dict):
        items = sorted((_str(str(k)), canonical_text(v)) for k, v in value.items())
        return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_text(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def hash_text(text: str) -> int:
    """The signed 64-bit hash of a canonical text (fits a BIGINT column on both backends)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def args_hash(args: Any) -> int:
    """The ``args_hash`` of a task's args."""
    return hash_text(canonical_text(args))
