"""`labtasker-tui eta`: the line, JSON for scripts, the filter, stalled tasks, bad input.
SQLite and PostgreSQL (a fresh queue on the shared server)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli
from labtasker_tui.schema import task_runs, utcnow
from labtasker_tui.store import claims
from labtasker_tui.store import workers as worker_rows
from labtasker_tui.store.progress import report_progress
from labtasker_tui.store.task_store import open_store


def with_store(url, queue, fn):
    async def main():
        store = open_store(url, queue)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


@pytest.fixture
def lt(db_url, queue):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, ["--db", db_url, "--queue", queue, *args],
                             catch_exceptions=False)

    return invoke


async def run_some(store, kinds, *, finish):
    """Submit tasks of these kinds; one worker runs the first ``finish`` to success."""
    ids = await store.submit([{"args": {"kind": k, "i": i}} for i, k in enumerate(kinds)])
    wid = await worker_rows.register_worker(store)
    for _ in range(finish):
        task = await claims.claim_next(store, wid)
        await claims.report(store, task.task_id, wid, "success")
    return ids, wid


def test_all_done_then_an_estimate_for_new_work(lt, db_url, queue):
    with_store(db_url, queue, lambda s: run_some(s, ["a"] * 4, finish=4))
    res = lt("eta")
    assert res.exit_code == 0, res.output
    first, spark = res.output.splitlines()[:2]
    assert first == "0 pending · 0 running · all done (4 tasks/h over the last hour)"
    assert spark.startswith("completions per hour, last 24 h: ▁") and "█" in spark
    with_store(db_url, queue, lambda s: s.submit([{"args": {"kind": "a", "i": 9}}] * 6))
    data = json.loads(lt("eta", "--format", "json").output)
    assert data["pending"] == 6 and data["slots"] == 1 and data["tasks_last_hour"] == 4
    assert data["completions_per_hour"][-1] == 4 and len(data["completions_per_hour"]) == 24
    median = data["median_run_seconds"]
    assert median is not None and data["eta_seconds"] == pytest.approx(6 * median)
    assert data["text"].startswith("6 pending · 0 running · done in about ")


def test_the_filter_selects_what_is_counted(lt, db_url, queue):
    with_store(db_url, queue, lambda s: run_some(s, ["a", "a", "b", "b", "b"], finish=3))
    tasks = with_store(db_url, queue, lambda s: s.list())
    for kind in ("a", "b"):
        mine = [t for t in tasks if t.args["kind"] == kind]
        done = sum(t.status == "success" for t in mine)
        got = json.loads(lt("eta", "-f", f"args.kind == '{kind}'", "--format", "json").output)
        assert (got["pending"], got["finished"]) == (len(mine) - done, done)
        assert sum(got["completions_per_hour"]) == done


def test_no_worker_and_no_history_say_unknown(lt, db_url, queue):
    with_store(db_url, queue, lambda s: s.submit([{"args": {"x": 1}}]))
    assert "1 pending · 0 running · ETA unknown: no active worker" in lt("eta").output
    with_store(db_url, queue, worker_rows.register_worker)
    assert "ETA unknown: no finished run yet to time" in lt("eta").output


def test_stalled_tasks_are_listed_and_selectable(lt, db_url, queue):
    async def body(store):
        (ids, wid) = await run_some(store, ["a", "a"], finish=0)
        stuck = await claims.claim_next(store, wid)
        await report_progress(store, stuck.task_id, wid, 0.4, 40, 100)
        async with store.write() as conn:  # its progress last moved 45 minutes ago
            await conn.execute(task_runs.update().where(
                task_runs.c.task_id == stuck.task_id).values(
                moved_at=utcnow() - timedelta(minutes=45)))
        return stuck.task_id

    stuck = with_store(db_url, queue, body)
    assert lt("eta", "--stalled").output == stuck + "\n"
    assert lt("eta", "--stalled", "--stalled-after", "1h").output == ""
    text = lt("eta").output
    assert text.splitlines()[0].endswith(" · 1 stalled")
    assert "stalled (progress unmoved for 30 m or more):" in text
    assert f"  {stuck[:8]}" in text and "unmoved for 45 m" in text
    data = json.loads(lt("eta", "--format", "json", "--stalled-after", "40m").output)
    assert [s["task_id"] for s in data["stalled"]] == [stuck]
    assert data["stalled_after_seconds"] == 2400


def test_the_stalled_setting_comes_from_the_environment(lt, db_url, queue, monkeypatch):
    with_store(db_url, queue, lambda s: s.submit([{"args": {"x": 1}}]))
    monkeypatch.setenv("LABTASKER_TUI_STALLED_AFTER", "2h")
    assert json.loads(lt("eta", "--format", "json").output)["stalled_after_seconds"] == 7200
    monkeypatch.setenv("LABTASKER_TUI_STALLED_AFTER", "soon")
    res = lt("eta")
    assert res.exit_code == 2 and "LABTASKER_TUI_STALLED_AFTER" in res.output


@pytest.mark.parametrize("args,words", [
    (("--stalled-after", "-5m"), "--stalled-after"),
    (("--stalled-after", "0"), "more than 0"),
    (("-f", "args.x >"), "filter"),
    (("--format", "xml"), "xml")])
def test_bad_input_exits_2_and_writes_nothing(lt, db_url, queue, args, words):
    with_store(db_url, queue, lambda s: s.submit([{"args": {"x": 1}}]))
    before = with_store(db_url, queue, lambda s: s.change_seq())
    res = lt("eta", *args)
    assert res.exit_code == 2 and words in res.output
    assert with_store(db_url, queue, lambda s: s.change_seq()) == before


def test_eta_and_ls_progress_do_not_import_textual(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "t.db"
    code = (
        "import sys\n"
        "from labtasker_tui.cli.main import cli\n"
        f"for args in (['init'], ['eta'], ['ls', '--no-pager', '--columns', 'progress']):\n"
        f"    sys.argv = ['labtasker-tui', '--db', r'{db}', *args]\n"
        "    try:\n        cli(prog_name='labtasker-tui')\n"
        "    except SystemExit as e:\n        assert not e.code, e.code\n"
        "print('textual' in sys.modules, file=sys.stderr)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "False"
