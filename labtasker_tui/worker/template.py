"""``%(path)`` command templates for ``loop`` (spec §7.2).

A placeholder is ``%(a.b)``: dot-separated segments, each an identifier or a non-negative
integer (an integer is a dict key string: ``%(1)`` reads ``args["1"]``). Whitespace inside the
parentheses is allowed. There is no escape for a literal ``%(``.

Two command forms:
- argv (a list): each element is substituted on its own and run without a shell; values are
  inserted verbatim (no quoting needed, nothing is interpreted);
- string: run by ``/bin/sh -c``; every value is ``shlex.quote``d, so ``x; touch pwned`` stays
  one inert word.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..dot_paths import parse_dot_path
from ..errors import UserError

OPEN = "%("


class TemplateError(UserError):
    """A malformed template (bad input: exit 2 before anything runs)."""


class TemplateKeyError(KeyError):
    """A placeholder whose value is missing or None in a task's args (a per-task failure)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path

    def __str__(self) -> str:
        return (f"Key '{self.path}' not found in the current context (task args), or its value"
                " is null; the command template needs it")


@dataclass(frozen=True)
class Placeholder:
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


Part = str | Placeholder


def _caret(text: str, pos: int, message: str) -> TemplateError:
    return TemplateError(f"{message}\n  {text}\n  {' ' * pos}^")


def parse_path(text: str, *, allow_star: bool = False) -> tuple[str, ...]:
    """A dot path into its segments; raises TemplateError on an invalid path."""
    try:
        return parse_dot_path(text, allow_star=allow_star)
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


def parse(template: str) -> list[Part]:
    """Split one template string into literal text and placeholders."""
    parts: list[Part] = []
    pos = 0
    while True:
        start = template.find(OPEN, pos)
        if start < 0:
            break
        end = template.find(")", start + 2)
        if end < 0:
            raise _caret(template, start, "unbalanced placeholder: '%(' without ')'")
        inner = template[start + 2:end]
        if not inner.strip():
            raise _caret(template, start, "empty placeholder '%()'")
        if OPEN in inner:
            raise _caret(template, start, "unbalanced placeholder: '%(' inside '%('")
        try:
            path = parse_path(inner)
        except TemplateError:
            raise _caret(template, start + 2,
                         f"invalid placeholder %({inner}): segments are names or integers"
                         ) from None
        if start > pos:
            parts.append(template[pos:start])
        parts.append(Placeholder(path))
        pos = end + 1
    if pos < len(template):
        parts.append(template[pos:])
    return parts


def _items(template: str | Sequence[str]) -> list[str]:
    return [template] if isinstance(template, str) else list(template)


def validate(template: str | Sequence[str]) -> None:
    """Raise TemplateError if any element of the template is malformed."""
    if not isinstance(template, str) and not template:
        raise TemplateError("empty command")
    for item in _items(template):
        parse(item)


def required_fields(template: str | Sequence[str]) -> list[str]:
    """The distinct placeholder paths of a template, in order of appearance."""
    seen: dict[str, None] = {}
    for item in _items(template):
        for part in parse(item):
            if isinstance(part, Placeholder):
                seen.setdefault(part.dotted)
    return list(seen)


def lookup(args: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` under args; TemplateKeyError when missing or None."""
    value: Any = args
    for seg in path:
        if not isinstance(value, Mapping) or seg not in value:
            raise TemplateKeyError(".".join(path))
        value = value[seg]
    if value is None:
        raise TemplateKeyError(".".join(path))
    return value


_SWAP_QUOTES = str.maketrans("'\"", "\"'")  # ' <-> "


def format_value(value: Any) -> str:
    """Scalars via str(); dicts as a Python repr with quotes swapped (JSON-like); lists as repr."""
    if isinstance(value, dict):
        return repr(value).translate(_SWAP_QUOTES)
    if isinstance(value, list):
        return repr(value)
    return str(value)


def substitute(item: str, args: Mapping[str, Any], *, quote: bool) -> str:
    out: list[str] = []
    for part in parse(item):
        if isinstance(part, Placeholder):
            text = format_value(lookup(args, part.path))
            out.append(shlex.quote(text) if quote else text)
        else:
            out.append(part)
    return "".join(out)


def render(template: str | Sequence[str], args: Mapping[str, Any]) -> str | list[str]:
    """Fill a template from a task's args: a shell string (values quoted) or an argv list."""
    if isinstance(template, str):
        return substitute(template, args, quote=True)
    return [substitute(item, args, quote=False) for item in template]
