"""Writing filter text: a path and a value in the Python syntax, a condition AND-ed onto a
filter in its own syntax, and the Python form of a Mongo filter. No database here.

>>> render_path("args.learning-rate")
"args['learning-rate']"
>>> add_condition("args.lr > 0.1", "args.model == 'vit'")
"args.lr > 0.1 and args.model == 'vit'"
"""

from __future__ import annotations

import keyword
import math
from typing import Any


def render_path(path: str) -> str:
    """A path in the Python filter syntax: ``args.opt.lr``, ``args['learning-rate']``."""
    root, *keys = path.split(".")
    out = root
    for k in keys:
        out += f".{k}" if k.isidentifier() and not keyword.iskeyword(k) else f"[{k!r}]"
    return out


def literal(v: Any) -> str:
    """A JSON value as a Python-syntax literal (NaN and infinities cannot be written)."""
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{v!r} cannot be written in a filter")
    if isinstance(v, list):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k!r}: {literal(x)}" for k, x in v.items()) + "}"
    return repr(v)


def add_condition(filter_text: str, condition: str) -> str:
    """``filter AND condition`` in the filter's own syntax (Mongo stays Mongo)."""
    text = filter_text.strip()
    if not text:
        return condition
    from . import _dumps, is_mongo_document, parse_mongo_text
    from .python_syntax import python_to_mongo

    if is_mongo_document(text):
        doc = parse_mongo_text(text)
        return _dumps({"$and": [doc, python_to_mongo(condition)]})
    try:
        top = python_to_mongo(text)
        simple = "$or" not in top
    except Exception:  # noqa: BLE001 - the caller validates; parenthesise to be safe
        simple = False
    return f"{text} and {condition}" if simple and "\n" not in text else \
        f"({text}) and {condition}"


# -- the Python form of a Mongo filter --------------------------------------------------------

_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def python_form(mongo: dict[str, Any]) -> str | None:
    """A Python-syntax filter equivalent to ``mongo`` when a simple one exists, else None.

    The candidate is checked: it must compile to the same IR as ``mongo``.
    """
    from .mongo import mongo_to_ir
    from .python_syntax import python_to_mongo

    try:
        text = _py(mongo, top=True)
        if text is None:
            return None
        return text if mongo_to_ir(python_to_mongo(text)) == mongo_to_ir(mongo) else None
    except Exception:  # noqa: BLE001 - no Python form
        return None


def _py(doc: Any, top: bool = False) -> str | None:
    if not isinstance(doc, dict) or not doc:
        return None
    parts: list[str] = []
    for key, cond in doc.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                return None
            subs = [_py(c) for c in cond]
            if any(s is None for s in subs):
                return None
            joiner = " and " if key == "$and" else " or "
            text = joiner.join(s for s in subs if s is not None)
            parts.append(text if key == "$and" or (top and len(doc) == 1) else f"({text})")
            continue
        if key.startswith("$"):
            return None
        p = render_path(key)
        if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
            for op, v in cond.items():
                if op in _OPS:
                    parts.append(f"{p} {_OPS[op]} {literal(v)}")
                elif op == "$eq":
                    parts.append(f"{p} == {literal(v)}")
                elif op == "$in" and isinstance(v, list):
                    parts.append(f"{p} in {literal(v)}")
                elif op == "$exists" and isinstance(v, bool):
                    parts.append(f"exists({p})" if v else f"exists({p}, False)")
                elif op == "$regex" and isinstance(v, str) and set(cond) == {"$regex"}:
                    parts.append(f"regex({p}, {v!r})")
                else:
                    return None
        else:
            parts.append(f"{p} == {literal(cond)}")
    return " and ".join(parts)
