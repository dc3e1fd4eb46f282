"""The ETA arithmetic (labtasker_tui/eta.py) on a frozen clock: no database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from labtasker_tui.eta import (
    EtaInputs,
    RunningTask,
    check_progress,
    clean_durations,
    estimate,
    fmt_span,
    is_stalled,
    parse_duration,
    progress_text,
    sparkline,
)

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def inputs(pending=0, running=(), durations=(), workers=0, per_hour=(), **counts):
    c = {"pending": pending, "running": len(running), **counts}
    return EtaInputs(counts=c, running=list(running), durations=list(durations),
                     workers=workers, per_hour=list(per_hour))


def test_the_issue_example_line():
    # 37 pending, 4 running just started, median 12m40s, 4 slots, 18 done in the last hour
    run = [RunningTask(f"t{i}", NOW, progress=0.0) for i in range(4)]
    est = estimate(inputs(37, run, [760] * 9, workers=4, per_hour=[0] * 23 + [18]), NOW)
    # (37 + 4) runs × 760 s / 4 slots = 7790 s = 2 h 9 m 50 s -> "2 h 10 m"
    assert est.seconds == pytest.approx(41 * 760 / 4)
    assert est.text() == ("37 pending · 4 running · done in about 2 h 10 m (median run"
                          " 12 m 40 s on 4 slots; 18 tasks/h over the last hour)")


def test_no_history_is_unknown_and_says_why():
    est = estimate(inputs(5, workers=2), NOW)
    assert est.seconds is None and est.unknown == "no finished run yet to time"
    assert "ETA unknown: no finished run yet to time" in est.text()
    assert est.as_dict()["eta_seconds"] is None and est.as_dict()["eta_at"] is None


def test_no_history_but_a_rate_uses_the_last_hour():
    est = estimate(inputs(30, workers=2, per_hour=[0] * 23 + [60]), NOW)
    assert est.by_rate and est.seconds == pytest.approx(30 * 60.0)  # 60/h -> 1 min each
    assert "done in about 30 m (at 60 tasks/h over the last hour)" in est.text()


def test_zero_slots_with_pending_work_is_unknown():
    est = estimate(inputs(10, durations=[60], workers=0), NOW)
    assert est.seconds is None and est.unknown == "no active worker"


def test_running_tasks_count_as_slots_when_no_worker_row_is_live():
    run = [RunningTask("a", NOW, progress=0.5)]
    est = estimate(inputs(1, run, [100], workers=0), NOW)
    assert est.slots == 1
    # 1 pending + 0.5 left = 1.5 runs × 100 s / 1 slot
    assert est.seconds == pytest.approx(150)


def test_all_done_and_nothing_to_run():
    done = estimate(inputs(0, durations=[10], workers=3, success=5), NOW)
    assert done.done and done.seconds == 0 and "all done" in done.text()
    empty = estimate(inputs(), NOW)
    assert empty.done and empty.eta_text() == "nothing to run"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -5.0, "12", None, True])
def test_nan_negative_and_non_numbers_are_dropped_from_the_history(bad):
    assert clean_durations([bad, 60.0, 120.0, 90.0]) == [60.0, 120.0, 90.0]
    est = estimate(inputs(3, durations=[bad, 60.0, 120.0, 90.0], workers=1), NOW)
    assert est.median == 90.0 and est.seconds == pytest.approx(270.0)


def test_only_bad_durations_is_no_history():
    est = estimate(inputs(3, durations=[math.nan, -1.0], workers=1), NOW)
    assert est.median is None and est.unknown == "no finished run yet to time"


def test_progress_fractions_of_running_tasks_reduce_the_work():
    run = [RunningTask("a", ago(10), progress=0.75), RunningTask("b", ago(10), progress=0.25)]
    est = estimate(inputs(2, run, [400], workers=2), NOW)
    # 2 pending + 0.25 + 0.75 = 3 runs × 400 s / 2 slots = 600 s
    assert est.seconds == pytest.approx(600)


def test_the_longest_running_remainder_bounds_the_eta_from_below():
    run = [RunningTask("a", NOW, progress=0.1)]
    est = estimate(inputs(0, run, [1000], workers=8), NOW)
    assert est.seconds == pytest.approx(900)  # not 900 / 8: one task runs on one slot


def test_running_without_progress_is_guessed_from_its_run_time():
    half = [RunningTask("a", ago(50))]
    assert estimate(inputs(0, half, [100], workers=1), NOW).seconds == pytest.approx(50)
    # longer than the median: counted as 90% done, never as finished
    late = [RunningTask("a", ago(500))]
    assert estimate(inputs(0, late, [100], workers=1), NOW).seconds == pytest.approx(10)


def test_nan_progress_on_a_running_task_is_ignored():
    run = [RunningTask("a", ago(0), progress=math.nan)]
    assert estimate(inputs(0, run, [100], workers=1), NOW).seconds == pytest.approx(100)


def test_stalled_on_a_frozen_clock():
    moving = RunningTask("m", ago(3600), progress=0.5, moved_at=ago(60))
    stuck = RunningTask("s", ago(3600), progress=0.2, moved_at=ago(31 * 60))
    silent = RunningTask("q", ago(3600))  # never reported: not judged
    assert not is_stalled(moving, NOW, 1800)
    assert is_stalled(stuck, NOW, 1800)
    assert not is_stalled(stuck, NOW, 1900)  # a longer limit
    assert not is_stalled(silent, NOW, 1)
    est = estimate(inputs(0, [moving, stuck, silent], [100], workers=3), NOW, 1800)
    assert [t for t, _ in est.stalled] == ["s"]
    assert est.text().endswith(" · 1 stalled")
    assert est.as_dict()["stalled"] == [{"task_id": "s", "moved_at": ago(31 * 60).isoformat()}]


def test_json_has_the_eta_time_and_the_sparkline():
    est = estimate(inputs(4, durations=[60], workers=2, per_hour=[0] * 22 + [3, 6]), NOW)
    d = est.as_dict()
    assert d["eta_seconds"] == 120 and d["eta_at"] == (NOW + timedelta(seconds=120)).isoformat()
    assert d["tasks_last_hour"] == 6 and d["sparkline"].endswith("▅█")
    assert len(d["completions_per_hour"]) == 24 and d["slots"] == 2


def test_singular_words():
    est = estimate(inputs(1, durations=[5], workers=1, per_hour=[1]), NOW)
    assert "on 1 slot; 1 task/h over the last hour" in est.text()


def test_sparkline():
    assert sparkline([]) == ""
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([0, 1, 8]) == "▁▂█"
    assert sparkline([2, 4, 6, 8]) == "▃▅▆█"
    assert len(sparkline([5] * 24)) == 24 and set(sparkline([5] * 24)) == {"█"}


@pytest.mark.parametrize("seconds,text", [
    (0, "0 s"), (45.4, "45 s"), (60, "1 m"), (760, "12 m 40 s"), (7790, "2 h 10 m"),
    (7200, "2 h"), (86400 + 4 * 3600, "1 d 4 h"), (3 * 86400, "3 d"), (-5, "0 s")])
def test_fmt_span(seconds, text):
    assert fmt_span(seconds) == text


def test_parse_duration():
    assert parse_duration("30m") == 1800 and parse_duration("90") == 90
    assert parse_duration("1.5h") == 5400 and parse_duration("2d") == 172800
    for bad in ("", "0", "-1m", "5 minutes", "nan", "1e400"):
        with pytest.raises(ValueError, match="duration|more than 0"):
            parse_duration(bad)


def test_check_progress():
    assert check_progress(0.4) == (0.4, None, None)
    assert check_progress(step=120, total=1000) == (0.12, 120.0, 1000.0)
    assert check_progress(1, None, None) == (1.0, None, None)
    assert check_progress(step=0, total=3) == (0.0, 0.0, 3.0)
    bad = [((math.nan,), "finite"), ((math.inf,), "finite"), ((1.5,), "between 0 and 1"),
           ((-0.1,), "between 0 and 1"), ((None, 1200, 1000), "step must be between"),
           ((None, 5, 0), "total must be more than 0"), ((None, 5, None), "go together"),
           ((None, None, 10), "go together"), (("0.5",), "a number"), ((True,), "a number"),
           ((None,), "give progress"), ((None, math.nan, 10), "finite"),
           ((None, 10**400, 10), "too large")]
    for args, match in bad:
        with pytest.raises(ValueError, match=match):
            check_progress(*args)


def test_progress_text():
    assert progress_text(None) == ""
    assert progress_text(0.4) == "40%"
    assert progress_text(0.999) == "99%"  # never 100% before the end
    assert progress_text(0.12, 120.0, 1000.0) == "120/1,000 12%"
    assert progress_text(0.5, 1.5, 3.0) == "1.5/3 50%"
    assert progress_text(0.5, stalled=True) == "50% stalled"
