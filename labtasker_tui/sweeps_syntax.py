"""The value syntax of a sweep axis, as written after ``sweep --`` (and as strings in a sweep
file). Pure functions, no I/O.

One axis is ``--KEY TEXT`` (or ``--KEY=TEXT``), tokenised exactly as ``submit`` tokenises its
args (:func:`labtasker_tui.args.parse_cli_args`). TEXT is either

- a comma list of items, each item a value or an integer range:
  ``1e-3,1e-2`` · ``vit,resnet`` · ``0..4`` (0 to 4 inclusive) · ``0..10..2`` (0, 2, …, 10: the
  third part is a positive step; the end is included when the steps reach it) · ``0..2,10``.
  Each value is cast as ``submit`` casts it (:func:`labtasker_tui.args.cast_value`: Python
  literals, else the text as a string). Commas inside quotes (``'a,b'``), brackets
  (``[1,2],[3,4]``: two list values) or parentheses do not split, and ``\\,`` is a literal
  comma (``a\\,b`` is the one string ``a,b``). An item that is a word, a dot-dot and a word
  (``a..b``, ``1.5..3``) is a range and must have integer ends; quote it (``"'a..b'"``) to mean
  the string. An empty item (``1,,2``) is an error: write ``''`` for an empty string.
- a random distribution, the whole of the axis: ``uniform(LOW,HIGH)``,
  ``loguniform(LOW,HIGH)`` (0 < LOW), ``randint(LOW,HIGH)`` (integers, both ends included),
  ``choice(ITEMS)`` (ITEMS as in a comma list, ranges included).

Tokens are read as ``submit`` reads them, but for one case: a value list or range may start
with a negative number (``--shift -1,0,1``, ``--shift -2..2``); ``submit`` would read it as
a flag. ``-X TEXT`` (a one-letter key) splits on commas too; its items stay strings, as ``submit``
keeps ``-X`` values.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .args import (  # the tokeniser of `submit`, shared so both read a command line alike
    _GROUPED_FLAGS,
    _LONG_OPT,
    _SHORT_OPT,
    _reads_as_number,
    _takes_value,
    cast_value,
)
from .errors import UserError

#: No sweep expands beyond this many tasks, even with --yes (split it into several sweeps).
HARD_CAP = 1_000_000

DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")

_CALL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\((.*)\)\s*", re.DOTALL)
_RANGE_LIKE = re.compile(r"[+-]?[\w.]+")
_INT = re.compile(r"[+-]?[0-9][0-9_]*")
_OPEN = {"[": "]", "(": ")", "{": "}"}


class SweepError(UserError):
    """A bad sweep spec: one line naming the axis (exit 2, nothing written)."""


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


@dataclass(frozen=True)
class Distribution:
    """A random axis: ``kind`` is one of :data:`DISTRIBUTIONS`; ``params`` are (low, high) or
    the choices."""

    kind: str
    params: tuple[Any, ...]

    def draw(self, rng: Any) -> Any:
        """One value from ``rng`` (a ``random.Random``); one call consumes a fixed part of its
        stream for a given kind, so the draws of a seed are the same on every machine."""
        if self.kind == "uniform":
            return rng.uniform(self.params[0], self.params[1])
        if self.kind == "loguniform":
            low, high = math.log(self.params[0]), math.log(self.params[1])
            return math.exp(rng.uniform(low, high))
        if self.kind == "randint":
            return rng.randint(self.params[0], self.params[1])
        return self.params[rng.randrange(len(self.params))]

    def text(self) -> str:
        return f"{self.kind}({', '.join(show_value(p) for p in self.params)})"


def show_value(value: Any) -> str:
    """A value as a table cell: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def split_items(text: str, where: str) -> list[tuple[str, bool]]:
    """Split ``text`` on its top-level commas: ``[(item, quoted)]`` where ``quoted`` says the
    item starts with a quote (it is then never a range). ``\\,`` is a literal comma."""
    items: list[tuple[str, bool]] = []
    buf: list[str] = []
    closers: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch == "\\" and text[i + 1: i + 2] == ",":
            buf.append(",")
            i += 1
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch in _OPEN:
            closers.append(_OPEN[ch])
            buf.append(ch)
        elif closers and ch == closers[-1]:
            closers.pop()
            buf.append(ch)
        elif ch == "," and not closers:
            items.append(_item("".join(buf), text, where))
            buf = []
        else:
            buf.append(ch)
        i += 1
    items.append(_item("".join(buf), text, where))
    return items


def _item(item: str, text: str, where: str) -> tuple[str, bool]:
    if text == "":
        raise SweepError(f"{where}: no values (an empty axis; write \"''\" for the empty "
                         "string)")
    if item == "":
        raise SweepError(f"{where}: empty value in {_shown(text)} (write '' for an empty "
                         "string, \\, for a comma inside a value)")
    return item, item.lstrip()[:1] in ("'", '"')


def parse_range(item: str, where: str) -> range | None:
    """``A..B`` or ``A..B..STEP`` as a range (end included); None when ``item`` is no range."""
    if ".." not in item or not _RANGE_LIKE.fullmatch(item) or item.startswith(".") \
            or item.endswith("."):
        return None
    parts = item.split("..")
    if len(parts) > 3 or not all(_INT.fullmatch(p) for p in parts):
        raise SweepError(f"{where}: bad range {_shown(item)}: write START..END or "
                         "START..END..STEP with integers (quote the value to mean the text)")
    start, end = int(parts[0]), int(parts[1])
    step = int(parts[2]) if len(parts) == 3 else 1
    if step <= 0:
        raise SweepError(f"{where}: bad range {_shown(item)}: the step must be a positive "
                         "integer")
    if start > end:
        raise SweepError(f"{where}: bad range {_shown(item)}: the start is above the end "
                         "(ranges count up)")
    if (end - start) // step + 1 > HARD_CAP:
        raise SweepError(f"{where}: range {_shown(item)} has more than {HARD_CAP:,} values")
    return range(start, end + 1, step)


def parse_items(text: str, where: str, *, cast: bool = True) -> list[Any]:
    """A comma list (ranges expanded, values cast unless ``cast`` is false)."""
    values: list[Any] = []
    for item, quoted in split_items(text, where):
        if not cast:
            values.append(item)
            continue
        rng = None if quoted else parse_range(item, where)
        if rng is not None:
            values.extend(rng)
            if len(values) > HARD_CAP:
                raise SweepError(f"{where}: more than {HARD_CAP:,} values")
        else:
            values.append(cast_value(item, where=where))
    return values


def parse_axis_text(text: str, where: str, *, cast: bool = True
                    ) -> tuple[list[Any], Distribution | None]:
    """An axis's TEXT: ``(values, None)`` for a list, ``([], distribution)`` for a random one."""
    m = _CALL.fullmatch(text) if cast else None
    if m is not None:
        return [], parse_distribution(m.group(1), m.group(2), where)
    values = parse_items(text, where, cast=cast)
    for item, quoted in split_items(text, where) if len(values) > 1 and cast else ():
        call = None if quoted else _CALL.fullmatch(item)
        if call is not None and call.group(1) in DISTRIBUTIONS:
            raise SweepError(f"{where}: a distribution ({call.group(1)}) must be the whole "
                             "axis, not one item of a list")
    return values, None


def _number(text: str, where: str, kind: str, *, integer: bool = False) -> int | float:
    value = cast_value(text.strip(), where=where)
    if integer:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        what = "an integer" if integer else "a number"
        raise SweepError(f"{where}: {kind}() needs {what}, got {_shown(text.strip())}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SweepError(f"{where}: {kind}() bounds must be finite, got {_shown(text.strip())}")
    return value  # type: ignore[no-any-return]  # checked above


def parse_distribution(kind: str, inner: str, where: str) -> Distribution:
    if kind not in DISTRIBUTIONS:
        raise SweepError(f"{where}: unknown distribution {kind!r} (one of "
                         f"{', '.join(DISTRIBUTIONS)}; quote the value to mean the text)")
    if kind == "choice":
        if not inner.strip():
            raise SweepError(f"{where}: choice() needs at least one value")
        return Distribution(kind, tuple(parse_items(inner, where)))
    parts = [p for p, _ in split_items(inner, where)] if inner.strip() else []
    if len(parts) != 2:
        raise SweepError(f"{where}: {kind}() takes two bounds (LOW,HIGH), got {len(parts)}")
    low, high = (_number(p, where, kind, integer=kind == "randint") for p in parts)
    return make_distribution(kind, [low, high], where)


def make_distribution(kind: str, params: list[Any], where: str) -> Distribution:
    """Check a distribution's parameters (also those read back from a stored spec)."""
    if kind not in DISTRIBUTIONS:
        raise SweepError(f"{where}: unknown distribution {kind!r} (one of "
                         f"{', '.join(DISTRIBUTIONS)})")
    if kind == "choice":
        if not params:
            raise SweepError(f"{where}: choice() needs at least one value")
        return Distribution(kind, tuple(params))
    if len(params) != 2:
        raise SweepError(f"{where}: {kind}() takes two bounds (LOW,HIGH), got {len(params)}")
    for p in params:
        if isinstance(p, bool) or not isinstance(p, int | float) or (
                kind == "randint" and not isinstance(p, int)):
            what = "integers" if kind == "randint" else "numbers"
            raise SweepError(f"{where}: {kind}() bounds must be {what}, got {p!r}")
        if isinstance(p, float) and not math.isfinite(p):
            raise SweepError(f"{where}: {kind}() bounds must be finite, got {p!r}")
    low, high = params
    if kind == "randint" and low > high:
        raise SweepError(f"{where}: randint({low}, {high}): LOW must not be above HIGH")
    if kind != "randint" and not low < high:
        raise SweepError(f"{where}: {kind}({low}, {high}): LOW must be below HIGH")
    if kind == "loguniform" and low <= 0:
        raise SweepError(f"{where}: loguniform({low}, {high}): LOW must be above 0")
    return Distribution(kind, (low, high))


@dataclass(frozen=True)
class RawAxis:
    """One ``--KEY TEXT`` of the command line: ``key`` with dashes as underscores, ``label``
    as written (for messages), ``short`` for ``-X`` (items stay strings)."""

    key: str
    label: str
    text: str
    short: bool = False


def _takes_axis_value(tokens: list[str], index: int) -> bool:
    """As ``submit``: the next token is the value unless it starts with '-' and does not read
    as a number; here a list or range starting with a negative number is a value too
    (``--shift -1,0,1``, ``--shift -2..2``)."""
    if _takes_value(tokens, index):
        return True
    if index >= len(tokens):
        return False
    first = re.split(r",|\.\.(?=[+-]?[0-9])", tokens[index], maxsplit=1)[0]
    return first != tokens[index] and _reads_as_number(first)


def tokenise_axes(tokens: list[str]) -> tuple[list[RawAxis], list[str]]:
    """The tokens after ``sweep --``, read as ``submit`` reads its args: ``(axes, dropped)``
    where ``dropped`` are flags without a value (the caller warns, as ``submit`` does).
    A key given twice is an error (``submit`` keeps the last; a sweep axis must be one)."""
    axes: list[RawAxis] = []
    dropped: list[str] = []
    seen: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        axis: RawAxis | None = None
        if m := _LONG_OPT.fullmatch(token):
            label = f"--{m.group(1)}"
            if m.group(2) is not None:
                axis = RawAxis(m.group(1).replace("-", "_"), label, m.group(2))
            elif _takes_axis_value(tokens, i + 1):
                i += 1
                axis = RawAxis(m.group(1).replace("-", "_"), label, tokens[i])
            else:
                dropped.append(token)
        elif m := _SHORT_OPT.fullmatch(token):
            if _takes_value(tokens, i + 1):
                i += 1
                axis = RawAxis(m.group(1), token, tokens[i], short=True)
            else:
                dropped.append(token)
        elif _GROUPED_FLAGS.fullmatch(token):
            dropped.append(token)
        else:
            raise SweepError(f"Unexpected token: {token}")
        if axis is not None:
            if axis.key in seen:
                raise SweepError(f"duplicate axis {axis.label} (also given as "
                                 f"{seen[axis.key]}): give each key once, its values "
                                 "comma-separated")
            seen[axis.key] = axis.label
            axes.append(axis)
        i += 1
    return axes, dropped
