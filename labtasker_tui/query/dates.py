"""``date('...')`` parsing shared by both filter syntaxes (spec §4.4.5)."""

from __future__ import annotations

import datetime as dt

from labtasker_tui.query.errors import FilterError

_MAX_LEN = 200  # dateparser is slow on long junk; no real date phrase is this long


def parse_date(text: str) -> dt.datetime:
    """Parse an absolute or relative date phrase into an aware UTC datetime.

    Text without a timezone is the client's local time. Relative phrases ('3 hours ago',
    'yesterday' = now - 24h, 'today' = now) are evaluated once, now.

    ``RELATIVE_BASE`` is the naive local now from Python and naive results are localised with
    ``astimezone()``, so both kinds use the same notion of "local" (Python's, which follows ``TZ``),
    instead of dateparser's cached tzlocal zone. Raises FilterError (no position) when unparseable.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_LEN:
        raise FilterError(f"Invalid date string: {text!r}")
    import dateparser  # type: ignore[import-untyped]  # slow to import: only when a filter uses date()

    try:
        parsed = dateparser.parse(text, settings={"RELATIVE_BASE": dt.datetime.now()})
    except (ValueError, OverflowError, TypeError) as exc:  # dateparser leaks some of these
        raise FilterError(f"Invalid date string: {text!r} ({exc})") from None
    if parsed is None:
        raise FilterError(f"Invalid date string: {text!r}")
    try:
        # naive -> local time (astimezone assumes local for naive values); aware -> converted
        aware: dt.datetime = parsed.astimezone(dt.UTC)
        return aware
    except (ValueError, OverflowError, OSError) as exc:  # e.g. year 1 in a zone east of UTC
        raise FilterError(f"Invalid date string: {text!r} ({exc})") from None
