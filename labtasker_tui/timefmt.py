"""Times for people: "5m ago" in tables (the CLI's and the app's) and run times ("12m05s").

One unit rule for all: the largest whole unit of days, hours, minutes and seconds. The CLI
prints exact spans (``0s ago``, ``75d ago``, ``in 3m``); the app's cells round the edges off
(``just now``, ``3m ahead``, a date past 60 days). Datetimes without a timezone are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def span(seconds: float) -> str:
    """``seconds`` (not negative) in its largest whole unit: '42s', '5m', '3h', '4d'."""
    for unit, size in _UNITS:
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def ago(when: datetime | None, now: datetime, *, missing: str = "-") -> str:
    """'42s ago', '5m ago', '3h ago', '4d ago'; 'in 5m' for a time ahead of ``now``;
    ``missing`` for None."""
    if when is None:
        return missing
    seconds = (now - _aware(when)).total_seconds()
    return f"in {span(-seconds)}" if seconds < 0 else f"{span(seconds)} ago"


def cell_ago(when: datetime | None, now: datetime) -> str:
    """The app's cells: 'just now' within 5 seconds, '5m ago' / '5m ahead', then an absolute
    date past 60 days ('Mar 04', or '2025-03' past 300); blank for None."""
    if when is None:
        return ""
    when = _aware(when)
    seconds = (now - when).total_seconds()
    s = abs(seconds)
    if s < 5:
        return "just now"
    if s >= 61 * 86400:
        return when.strftime("%b %d") if s < 300 * 86400 else when.strftime("%Y-%m")
    return f"{span(s)} {'ago' if seconds >= 0 else 'ahead'}"


def elapsed(start: datetime | None, now: datetime) -> str:
    """Compact run time since ``start``: '42s', '12m05s', '3h07m', '2d04h'; blank for None."""
    if start is None:
        return ""
    s = max(0, int((now - _aware(start)).total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
