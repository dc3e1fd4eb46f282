"""One "N ago" formatter (labtasker_tui.timefmt) for the CLI's tables, `worker ls` and the
app's cells, each keeping its look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labtasker_tui.timefmt import ago, cell_ago, elapsed, span

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
DAY = 86400


def before(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.9, "0s"), (59.9, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"),
    (DAY - 1, "23h"), (DAY, "1d"), (400 * DAY, "400d"),
])
def test_span_takes_the_largest_whole_unit(seconds, text):
    assert span(seconds) == text


def test_cli_ago():
    assert ago(before(0), NOW) == "0s ago"
    assert ago(before(90), NOW) == "1m ago"
    assert ago(before(75 * DAY), NOW) == "75d ago"
    assert ago(before(-180), NOW) == "in 3m"
    assert ago(None, NOW) == "-" and ago(None, NOW, missing="") == ""
    # naive datetimes are UTC
    assert ago(before(7200).replace(tzinfo=None), NOW) == "2h ago"


def test_worker_ls_clamps_a_future_last_seen():
    # `worker ls` passes min(last_seen, now): a clock ahead by a little reads "0s ago"
    assert ago(min(before(-3), NOW), NOW) == "0s ago"


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "just now"), (4.9, "just now"), (-4, "just now"), (5, "5s ago"), (-5, "5s ahead"),
    (3 * 3600, "3h ago"), (60 * DAY, "60d ago"), (61 * DAY - 1, "60d ago"),
    (61 * DAY, "Jan 02"), (299 * DAY, "May 09"), (300 * DAY, "2025-05"),
])
def test_cell_ago(seconds, text):
    assert cell_ago(before(seconds), NOW) == text


def test_cell_ago_blank_and_naive():
    assert cell_ago(None, NOW) == ""
    assert cell_ago(before(600).replace(tzinfo=None), NOW) == "10m ago"


@pytest.mark.parametrize(("seconds", "text"), [
    (42, "42s"), (725, "12m05s"), (3 * 3600 + 7 * 60, "3h07m"), (2 * DAY + 4 * 3600, "2d04h"),
    (-10, "0s"),
])
def test_elapsed(seconds, text):
    assert elapsed(before(seconds), NOW) == text
    assert elapsed(None, NOW) == ""
