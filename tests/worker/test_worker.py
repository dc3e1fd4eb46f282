"""Workers: templates, the required-fields rule, atomic claims, reports, timeouts and `loop`.

SQLite always; PostgreSQL too when LABTASKER_TUI_TEST_PG is set (isolated by a fresh queue).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import click
import pytest
from click.testing import CliRunner

from labtasker_tui.store import claims
from labtasker_tui.store import workers as worker_rows
from labtasker_tui.store.task_store import open_store
from labtasker_tui.worker import template as T
from labtasker_tui.worker.config import parse_duration, parse_slots

CLI = [sys.executable, "-c", "from labtasker_tui.cli.main import main; main()"]
PG_URL = os.environ.get("LABTASKER_TUI_TEST_PG")


@pytest.fixture(scope="module")
def pg_module_url():
    """A fresh PostgreSQL database for this module (others' tests cannot disturb it)."""
    import uuid

    import psycopg

    base = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    name = "lt_worker_" + uuid.uuid4().hex[:10]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    root, _, _ = PG_URL.rpartition("/")
    yield f"{root}/{name}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("pg", id="pg", marks=pytest.mark.skipif(
        not PG_URL, reason="set LABTASKER_TUI_TEST_PG to a PostgreSQL URL to run (.ci/run does)")),
])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"
    return request.getfixturevalue("pg_module_url")


def run(coro):
    return asyncio.run(coro)


async def _with_store(url, queue, fn):
    store = open_store(url, queue)
    try:
        return await fn(store)
    finally:
        await store.close()


def with_store(url, queue, fn):
    return run(_with_store(url, queue, fn))


def submit(url, queue, specs):
    return with_store(url, queue, lambda s: s.submit(specs))


def all_tasks(url, queue):
    return with_store(url, queue, lambda s: s.list())


def cli(url, queue, *args, cwd, timeout=60, **kw):
    return subprocess.run([*CLI, "--db", url, "--queue", queue, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, **kw)


def popen(url, queue, *args, cwd):
    return subprocess.Popen([*CLI, "--db", url, "--queue", queue, *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(pred, timeout=20.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")


# -- templates ---------------------------------------------------------------------------------


def test_template_parse_and_required_fields():
    assert T.required_fields(["python", "t.py", "--lr", "%(lr)", "--m=%( model.name )"]) == [
        "lr", "model.name"]
    assert T.required_fields("echo %(a) %(b.c) %(a) %(1)") == ["a", "b.c", "1"]
    assert T.required_fields("echo hello") == []
    for bad in ("echo %()", "echo %(a", "echo %(a..b)", "echo %(.a)", "echo %(a-b)",
                "echo %(%(a))"):
        with pytest.raises(T.TemplateError) as err:
            T.validate(bad)
        assert "^" in str(err.value)


def test_template_render_values_and_quoting():
    args = {"a": True, "b": {"c": 0.1}, "d": {"e": 1}, "l": [1, 2], "s": ["a"], "1": "one",
            "x": "v; touch pwned", "n": None}
    assert T.render(["run", "%(a)", "--c=%(b.c)", "%(d)", "%(l)", "%(s)", "%(1)"], args) == [
        "run", "True", "--c=0.1", '{"e": 1}', "[1, 2]", "['a']", "one"]
    # argv form: values are verbatim, never interpreted
    assert T.render(["echo", "%(x)"], args) == ["echo", "v; touch pwned"]
    # string form: every value is shell-quoted
    assert T.render("echo %(x) %(a)", args) == "echo 'v; touch pwned' True"
    for missing in ("%(n)", "%(zz)", "%(b.c.d)", "%(l.0)"):
        with pytest.raises(T.TemplateKeyError) as err:
            T.render(["echo", missing], args)
        assert "not found" in str(err.value)


def test_durations_and_slots():
    assert parse_duration("90") == 90
    assert parse_duration("50s") == 50
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1.5h") == 5400
    assert parse_duration("1 hour, 30 minutes") == 5400
    for bad in ("", "abc", "5 parsecs", "1h x"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_slots(None, None) == [None]
    assert parse_slots(None, 3) == [None, None, None]
    assert parse_slots("0,1", None) == ["0", "1"]
    assert parse_slots("0,1", 3) == ["0", "1", "0"]
    assert parse_slots("0+1,2", None) == ["0+1", "2"]
    with pytest.raises(ValueError):
        parse_slots("a,b", None)
    with pytest.raises(ValueError):
        parse_slots(None, 0)


# -- required fields (spec §7.3) ---------------------------------------------------------------

REQUIRED_CASES = [
    ({"a": 1, "b": {"c": "x"}}, ["a", "b.c"], True),
    ({"a": 3, "b": {"c": "x"}, "extra": 1}, ["a", "b.c"], False),   # no more
    ({"a": 3, "b": {"c": "x", "d": 1}}, ["a", "b.c"], False),       # no more, nested
    ({"a": {"z": 1}, "b": {"c": None}}, ["a", "b.c"], True),        # below a leaf: anything
    ({"a": 1}, ["a", "b.c"], False),                                # no less
    ({"a": 1, "b": "str"}, ["a", "b.c"], False),
    ({"a": 1, "b": [{"c": 1}]}, ["a", "b.c"], False),               # lists are not traversed
    ({"a": 1, "b": {"0": 1}}, ["a", "b.0"], True),                  # integers are key strings
    ({"a": 1, "b": [1]}, ["a", "b.0"], False),
    ({"arg1": 1, "arg2": {"arg22": 1, "x": 2}}, ["arg1", "arg2", "arg2.arg22"], True),
    ({"arg1": 1, "arg2": {"x": 2}}, ["arg1", "arg2", "arg2.arg22"], False),
    ({"a": 1, "zz": 2}, ["a", "*"], True),                          # * disables "no more"
    ({"zz": 2}, ["a", "*"], False),
    ({"zz": 2}, [], True),                                          # no placeholders: any task
]


def test_required_fields_sql_matches_reference(db_url, queue):
    from sqlalchemy import select

    from labtasker_tui.schema import tasks

    ids = submit(db_url, queue, [{"args": args} for args, _, _ in REQUIRED_CASES])

    async def check(store):
        got = []
        async with store.read() as conn:
            for task_id, (_, req, _) in zip(ids, REQUIRED_CASES, strict=True):
                stmt = select(tasks.c.task_id).where(tasks.c.task_id == task_id)
                cond = claims.required_condition(req, store.dialect)
                if cond is not None:
                    stmt = stmt.where(cond)
                got.append((await conn.execute(stmt)).first() is not None)
        return got

    got = with_store(db_url, queue, check)
    for (args, req, expected), sql in zip(REQUIRED_CASES, got, strict=True):
        assert claims.args_match_required(args, req) == expected, (args, req)
        assert sql == expected, (args, req)
    for bad in (".a", "", ".", "a..b"):
        with pytest.raises(claims.UserError):
            claims.parse_required([bad])


def test_claim_skips_tasks_failing_the_rule(db_url, queue):
    submit(db_url, queue, [{"args": {"a": 3, "b": {"c": "x"}, "extra": 1}, "priority": 50},
                           {"args": {"a": 1, "b": {"c": "x"}}}])

    async def go(store):
        wid = await worker_rows.register_worker(store)
        first = await claims.claim_next(store, wid, required_fields=["a", "b.c"])
        second = await claims.claim_next(store, wid, required_fields=["a", "b.c"])
        third = await claims.claim_next(store, wid, required_fields=["a", "*"])
        return first, second, third

    first, second, third = with_store(db_url, queue, go)
    assert first.args == {"a": 1, "b": {"c": "x"}}
    assert second is None
    assert third.args["extra"] == 1


# -- claim / report / sweep semantics -----------------------------------------------------------


def test_claim_order_and_fetch_effects(db_url, queue):
    ids = [submit(db_url, queue, [spec])[0] for spec in (   # separate submits: created_at order
        {"args": {"i": 0}, "priority": 10},
        {"args": {"i": 1}, "priority": 20, "task_timeout": 5},
        {"args": {"i": 2}, "priority": 10},
    )]

    async def go(store):
        wid = await worker_rows.register_worker(store, name="w1")
        got = []
        while (t := await claims.claim_next(store, wid, heartbeat_timeout=7.5, task_timeout=99,
                                            cmd=["python", "x.py"])) is not None:
            got.append(t)
        return wid, got

    wid, got = with_store(db_url, queue, go)
    assert [t.args["i"] for t in got] == [1, 0, 2]
    t = got[0]
    assert t.task_id == ids[1]
    # a claim never overwrites the submitted cmd (spec: the loop's command goes to run.log)
    assert (t.status, t.worker_id, t.summary, t.cmd) == ("running", wid, {}, "")
    assert (t.heartbeat_timeout, t.task_timeout, t.version) == (7.5, 99, 2)
    assert t.start_time is not None and t.start_time == t.last_heartbeat == t.last_modified


def test_report_retries_summary_and_worker_crash(db_url, queue):
    submit(db_url, queue, [{"args": {"i": 1}, "max_retries": 3, "priority": 20},
                           {"args": {"i": 2}, "max_retries": 1, "priority": 10}])

    async def go(store):
        wid = await worker_rows.register_worker(store, max_retries=3)
        seen = []
        t = await claims.claim_next(store, wid)
        assert await claims.update_summary(store, t.task_id, {"acc": 0.5, "keep": 1}, wid)
        r = await claims.report(store, t.task_id, wid, "failed", {"acc": {"x": 1}})
        seen.append((t.args["i"], r.status, r.retries, r.summary, r.worker_id))
        # a stale report (not running for this worker) changes nothing
        assert await claims.report(store, t.task_id, wid, "success") is None
        t = await claims.claim_next(store, wid)
        seen.append((t.args["i"], t.summary))          # summary reset at fetch
        r = await claims.report(store, t.task_id, wid, "failed")
        seen.append((r.status, r.retries, r.summary))
        t = await claims.claim_next(store, wid)
        r = await claims.report(store, t.task_id, wid, "failed", {})
        seen.append((t.args["i"], r.status, r.retries))
        worker = await worker_rows.get_worker(store, wid)
        seen.append((worker.status, worker.retries))
        with pytest.raises(worker_rows.WorkerInactive):
            await claims.claim_next(store, wid)
        worker = await worker_rows.set_worker_status(store, wid, "active")
        seen.append((worker.status, worker.retries))
        t = await claims.claim_next(store, wid)
        r = await claims.report(store, t.task_id, wid, "failed")
        seen.append((t.args["i"], r.status, r.retries))
        return seen

    assert with_store(db_url, queue, go) == [
        (1, "pending", 1, {"acc": {"x": 1}, "keep": 1}, None),
        (1, {}),
        ("pending", 2, {}),
        (1, "failed", 3),
        ("crashed", 3),          # 3 failures in total crash the worker (spec §1.4)
        ("active", 0),           # reactivation resets the count
        (2, "failed", 1),        # max_retries 1: the first failure is final
    ]


def test_failed_arithmetic_max_retries(db_url, queue):
    submit(db_url, queue, [{"args": {"i": 1}, "max_retries": 3}])

    async def go(store):
        wid = await worker_rows.register_worker(store, max_retries=100)
        out = []
        for _ in range(3):
            t = await claims.claim_next(store, wid)
            r = await claims.report(store, t.task_id, wid, "failed")
            out.append((r.status, r.retries))
        out.append(await claims.claim_next(store, wid))
        return out

    assert with_store(db_url, queue, go) == [("pending", 1), ("pending", 2), ("failed", 3), None]


def test_sweep_heartbeat_timeout(db_url, queue):
    submit(db_url, queue, [{"args": {"i": 1}}])

    async def go(store):
        a = await worker_rows.register_worker(store, name="a")
        b = await worker_rows.register_worker(store, name="b")
        t = await claims.claim_next(store, a, heartbeat_timeout=0.3)
        assert await claims.claim_next(store, b) is None
        await asyncio.sleep(0.5)
        assert await claims.sweep_timeouts(store) == [t.task_id]
        swept = await store.get(t.task_id)
        assert not await claims.heartbeat(store, t.task_id, a)
        again = await claims.claim_next(store, b)
        return swept, again, await worker_rows.get_worker(store, a)

    swept, again, worker_a = with_store(db_url, queue, go)
    assert (swept.status, swept.retries, swept.worker_id) == ("pending", 1, None)
    assert swept.summary == {"labtasker_error": claims.TIMEOUT_ERROR}
    assert again.task_id == swept.task_id and again.summary == {}
    assert worker_a.retries == 1


# -- exactly once under contention --------------------------------------------------------------

CLAIMER = r"""
import asyncio, sys
from labtasker_tui.store.task_store import open_store
from labtasker_tui.store import claims
from labtasker_tui.store import workers as worker_rows

async def main(url, queue):
    store = open_store(url, queue)
    wid = await worker_rows.register_worker(store, max_retries=10**6)
    n = 0
    while (t := await claims.claim_next(store, wid)) is not None:
        sys.stdout.write(t.task_id + "\n")
        await claims.report(store, t.task_id, wid, "success", {"by": wid})
        n += 1
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_eight_processes_claim_each_task_exactly_once(db_url, queue):
    n_tasks, n_procs = 500, 8
    ids = submit(db_url, queue, [{"args": {"i": i}} for i in range(n_tasks)])
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, db_url, queue],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n_procs)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    claimed = [line for out, _ in outs for line in out.split()]
    counts = Counter(claimed)
    assert len(claimed) == n_tasks and set(counts) == set(ids), counts.most_common(3)
    busy = [out for out, _ in outs if out.strip()]
    assert len(busy) >= 2  # the work really was shared
    tasks = all_tasks(db_url, queue)
    assert all(t.status == "success" and t.version == 3 and "by" in t.summary for t in tasks)


def test_eight_loop_processes_run_each_job_once(db_url, queue, tmp_path):
    n_tasks = 120
    submit(db_url, queue, [{"args": {"i": i}} for i in range(n_tasks)])
    out = tmp_path / "out"
    procs = [popen(db_url, queue, "loop", "-q", "-c", f"echo %(i) >> {out}", cwd=tmp_path)
             for _ in range(8)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in results]
    lines = Counter(out.read_text().split())
    assert lines == Counter(str(i) for i in range(n_tasks))
    assert {t.status for t in all_tasks(db_url, queue)} == {"success"}


# -- the loop command ---------------------------------------------------------------------------


def test_loop_retries_then_success_and_logs(db_url, queue, tmp_path):
    submit(db_url, queue, [{"args": {"i": 7}, "max_retries": 3}])
    job = ('n=$(cat cnt_%(i) 2>/dev/null || echo 0); n=$((n+1)); echo $n > cnt_%(i);'
           ' echo "attempt $n $LABTASKER_TASK_ID"; test $n -ge 3')
    res = cli(db_url, queue, "loop", "-c", job, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (task,) = all_tasks(db_url, queue)
    assert (task.status, task.retries, task.worker_id) == ("success", 2, None)
    assert "attempt 3" in res.stdout
    log = (tmp_path / ".labtasker" / "logs" / task.task_id / "run.log").read_text()
    assert log.count(f"attempt 3 {task.task_id}") == 1 and "attempt 1" in log


def test_loop_failure_summary_and_worker_goes_on(db_url, queue, tmp_path):
    submit(db_url, queue, [{"args": {"i": None}, "max_retries": 1, "priority": 20},
                           {"args": {"i": 5}, "max_retries": 1, "priority": 15},
                           {"args": {"i": 6}}])
    res = cli(db_url, queue, "loop", "--", "sh", "-c", "echo line-$0; exit $(($0 % 2))",
              "%(i)", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    by_i = {t.args["i"]: t for t in all_tasks(db_url, queue)}
    bad = by_i[None]
    assert bad.status == "failed"
    assert "Key 'i' not found" in bad.summary["labtasker_exception"]["message"]
    five = by_i[5]
    assert five.status == "failed"
    exc = five.summary["labtasker_exception"]
    assert exc["exit_code"] == 1 and exc["log_tail"] == ["line-5"] and exc["duration"] >= 0
    assert by_i[6].status == "success"


def test_shell_injection_is_inert(db_url, queue, tmp_path):
    submit(db_url, queue, [{"args": {"x": "x; touch pwned"}},
                           {"args": {"x": "$(touch pwned2)`touch pwned3`"}}])
    res = cli(db_url, queue, "loop", "-c", "echo %(x)", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "x; touch pwned" in res.stdout and "$(touch pwned2)" in res.stdout
    submit(db_url, queue, [{"args": {"y": "y; touch pwned4"}}])
    res = cli(db_url, queue, "loop", "--", "echo", "%(y)", cwd=tmp_path)
    assert res.returncode == 0 and "y; touch pwned4" in res.stdout
    assert not list(tmp_path.glob("pwned*"))
    assert {t.status for t in all_tasks(db_url, queue)} == {"success"}


def test_kill_9_worker_task_is_reclaimed(db_url, queue, tmp_path):
    submit(db_url, queue, [{"args": {"i": 1}}])
    job = "if [ -e started ]; then echo second; else touch started; sleep 4; fi"
    first = popen(db_url, queue, "loop", "--heartbeat-timeout", "1.5", "-c", job, cwd=tmp_path)
    wait_for(lambda: (tmp_path / "started").exists())
    (running,) = all_tasks(db_url, queue)
    assert running.status == "running"
    first.send_signal(signal.SIGKILL)
    first.communicate()
    time.sleep(2.0)
    res = cli(db_url, queue, "loop", "--heartbeat-timeout", "1.5", "-c", job, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (task,) = all_tasks(db_url, queue)
    assert "second" in res.stdout
    assert (task.status, task.retries) == ("success", 1)
    assert task.start_time > running.start_time


def test_ctrl_c_puts_task_back_to_pending(db_url, queue, tmp_path):
    submit(db_url, queue, [{"args": {"i": 1}, "max_retries": 3}])
    proc = popen(db_url, queue, "loop", "-c", "touch started; sleep 30", cwd=tmp_path)
    wait_for(lambda: (tmp_path / "started").exists())
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    (task,) = all_tasks(db_url, queue)
    assert (task.status, task.retries, task.worker_id) == ("pending", 0, None)
    assert "back to pending" in err


def test_eta_max_stops_the_job(db_url, queue, tmp_path):
    submit(db_url, queue, [{"args": {"i": 1}, "max_retries": 1}])
    res = cli(db_url, queue, "loop", "--eta-max", "1", "--heartbeat-timeout", "1",
              "-c", "sleep 20", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (task,) = all_tasks(db_url, queue)
    assert task.status == "failed"
    assert task.summary["labtasker_error"] == claims.TIMEOUT_ERROR
    assert task.task_timeout == 1


def test_gpus_slots_env_and_job_api(db_url, queue, tmp_path):
    submit(db_url, queue, [{"args": {"i": i}} for i in range(6)])
    job = tmp_path / "job.py"
    job.write_text(
        "import os, sys\n"
        "from labtasker_tui import jobapi\n"
        "t = jobapi.task_info()\n"
        "jobapi.report(summary={'gpu': os.environ['CUDA_VISIBLE_DEVICES'], 'i': t.args['i']})\n"
        "if t.args['i'] == 3:\n"
        "    jobapi.report(status='failed')\n")
    res = cli(db_url, queue, "loop", "--gpus", "0,1", "--max-worker-failures", "0", "--",
              sys.executable, str(job), "%(i)", cwd=tmp_path, timeout=90)
    assert res.returncode == 0, res.stderr
    tasks = {t.args["i"]: t for t in all_tasks(db_url, queue)}
    assert {t.summary["gpu"] for t in tasks.values()} <= {"0", "1"}
    assert all(t.summary["i"] == i for i, t in tasks.items())
    assert tasks[3].status in ("pending", "failed") and tasks[3].retries >= 1
    assert all(t.status == "success" for i, t in tasks.items() if i != 3)
    workers = with_store(db_url, queue, worker_rows.list_workers)
    assert sorted(w.slot for w in workers) == ["0", "1"]


def test_task_info_outside_a_job(monkeypatch):
    from labtasker_tui import jobapi

    monkeypatch.delenv("LABTASKER_TASK_ID", raising=False)
    assert not jobapi.is_enabled()
    with pytest.raises(RuntimeError, match="not run by labtasker"):
        jobapi.task_info()


# -- CLI input errors and worker ls (in-process, with a small group) ---------------------------


def _group():
    from labtasker_tui.cli.context import AppContext
    from labtasker_tui.cli.loop_cmd import loop
    from labtasker_tui.cli.worker_cmd import worker

    @click.group()
    @click.option("--db")
    @click.option("--queue", default="default")
    @click.pass_context
    def g(ctx, db, queue):
        ctx.obj = AppContext(db=db, queue=queue)

    g.add_command(loop)
    g.add_command(worker)
    return g


@pytest.mark.parametrize("args", [
    ["loop"],
    ["loop", "-c", "echo", "--", "echo"],
    ["loop", "-c", "echo %()"],
    ["loop", "--", "echo", "%(a"],
    ["loop", "--gpus", "x", "-c", "true"],
    ["loop", "--workers", "0", "-c", "true"],
    ["loop", "--eta-max", "soon", "-c", "true"],
    ["loop", "--required-fields", ".a", "-c", "true"],
    ["loop", "-f", "args.x = 1", "-c", "true"],
])
def test_loop_bad_input_exits_2(args, sqlite_url):
    if "-f" in args:
        pytest.importorskip("labtasker_tui.query", reason="query layer not available")
        from labtasker_tui import query

        if not hasattr(query, "parse_filter"):
            pytest.skip("labtasker_tui.query.parse_filter not available yet")
    res = CliRunner().invoke(_group(), ["--db", sqlite_url, *args])
    assert res.exit_code == 2, res.output


def test_loop_help_has_examples():
    res = CliRunner().invoke(_group(), ["loop", "--help"])
    assert res.exit_code == 0 and "Examples:" in res.output and "--gpus 0,1,2,3" in res.output


def test_worker_ls(sqlite_url):
    async def go(store):
        return await worker_rows.register_worker(store, name="w-a", slot="1")

    wid = with_store(sqlite_url, "default", go)
    g = _group()
    res = CliRunner().invoke(g, ["--db", sqlite_url, "worker", "ls"])
    assert res.exit_code == 0 and wid in res.output and "w-a" in res.output
    res = CliRunner().invoke(g, ["--db", sqlite_url, "worker", "ls", "--format", "jsonl"])
    assert json.loads(res.output)["status"] == "active"
    res = CliRunner().invoke(g, ["--db", sqlite_url, "worker", "suspend", wid])
    assert res.exit_code == 0 and "suspended" in res.output
    res = CliRunner().invoke(g, ["--db", sqlite_url, "worker", "ls", "-q", "-s", "suspended"])
    assert res.output.split() == [wid]


def test_loop_exits_when_worker_suspended(sqlite_url, tmp_path):
    submit(sqlite_url, "default", [{"args": {"i": 1}}])
    res = CliRunner().invoke(_group(), ["--db", sqlite_url, "loop", "-q", "--max-worker-failures",
                                        "1", "-c", "exit 3"])
    assert res.exit_code == 1
    tasks = all_tasks(sqlite_url, "default")
    assert tasks[0].retries == 1 and tasks[0].status == "pending"


def test_second_ctrl_c_kills_a_stubborn_job(sqlite_url, tmp_path):
    submit(sqlite_url, "default", [{"args": {"i": 1}}])
    proc = popen(sqlite_url, "default", "loop", "-c",
                 "trap '' INT TERM; touch started; sleep 30", cwd=tmp_path)
    wait_for(lambda: (tmp_path / "started").exists())
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None          # the job ignores SIGINT: still waiting
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    (task,) = all_tasks(sqlite_url, "default")
    assert (task.status, task.retries) == ("pending", 0)


def test_task_cancelled_while_running_stops_its_job(db_url, queue, tmp_path):
    (tid,) = submit(db_url, queue, [{"args": {"i": 1}}])
    proc = popen(db_url, queue, "loop", "--heartbeat-timeout", "1.5", "-c",
                 "touch started; sleep 30", cwd=tmp_path)
    wait_for(lambda: (tmp_path / "started").exists())
    t0 = time.monotonic()
    with_store(db_url, queue, lambda s: claims.report(s, tid, None, "cancelled"))
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert time.monotonic() - t0 < 5
    assert "no longer running" in err
    (task,) = all_tasks(db_url, queue)
    assert task.status == "cancelled"


def test_follow_waits_for_new_tasks(sqlite_url, tmp_path):
    submit(sqlite_url, "default", [])  # loop refuses a database that does not exist
    proc = popen(sqlite_url, "default", "loop", "--follow", "-c", "echo got %(i)", cwd=tmp_path)
    time.sleep(1.0)
    assert proc.poll() is None
    submit(sqlite_url, "default", [{"args": {"i": 42}}])
    wait_for(lambda: [t for t in all_tasks(sqlite_url, "default") if t.status == "success"])
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130 and "got 42" in out, err


def test_console_status_line_and_prefixes():
    import io

    from labtasker_tui.worker.console import Console, Tail

    out, err = io.BytesIO(), io.BytesIO()
    con = Console(prefix_lines=True, status_line=True, out=out, err=err)
    con.status("loop: 1 running")
    con.job_output("gpu0", "out", b"hello\npart")
    con.job_output("gpu0", "out", b"ial\n")
    con.job_output("gpu1", "out", b"no newline", final=True)
    con.close()
    assert out.getvalue() == b"[gpu0] hello\n[gpu0] partial\n[gpu1] no newline\n"
    assert err.getvalue().startswith(b"loop: 1 running\r\x1b[K")
    tail = Tail()
    tail.feed(b"".join(b"\x1b[31mline %d\x1b[0m\n" % i for i in range(30)) + b"last")
    assert tail.result()[-2:] == ["line 29", "last"] and len(tail.result()) == 20


def test_loop_extra_filter(db_url, queue, tmp_path):
    query = pytest.importorskip("labtasker_tui.query")
    if not hasattr(query, "parse_filter"):
        pytest.skip("labtasker_tui.query.parse_filter not available yet")
    submit(db_url, queue, [{"args": {"x": i}} for i in range(6)])
    res = cli(db_url, queue, "loop", "-f", "args.x >= 4", "-c", "echo x=%(x)", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    done = sorted(t.args["x"] for t in all_tasks(db_url, queue) if t.status == "success")
    assert done == [4, 5]


def test_loop_reuses_worker_id(sqlite_url, tmp_path):
    import uuid

    wid = str(uuid.uuid4())
    submit(sqlite_url, "default", [{"args": {"i": 1}, "max_retries": 1}])
    res = cli(sqlite_url, "default", "loop", "--worker-id", wid, "-c", "exit 1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (worker,) = with_store(sqlite_url, "default", worker_rows.list_workers)
    assert (worker.worker_id, worker.retries) == (wid, 1)
    res = cli(sqlite_url, "default", "loop", "--worker-id", "nope", "-c", "true", cwd=tmp_path)
    assert res.returncode == 2 and "UUID" in res.stderr


def test_job_api_in_process(db_url, queue, monkeypatch):
    from labtasker_tui import jobapi

    (tid,) = submit(db_url, queue, [{"args": {"i": 1}}])

    async def claim(store):
        wid = await worker_rows.register_worker(store)
        return wid, await claims.claim_next(store, wid)

    wid, _ = with_store(db_url, queue, claim)
    monkeypatch.setenv("LABTASKER_TASK_ID", tid)
    monkeypatch.setenv("LABTASKER_WORKER_ID", wid)
    monkeypatch.setenv("LABTASKER_TUI_DB", db_url)
    monkeypatch.setenv("LABTASKER_TUI_QUEUE", queue)
    monkeypatch.delenv("LABTASKER_LOG_DIR", raising=False)
    info = jobapi.task_info()
    assert (info.task_id, info.status, info.args) == (tid, "running", {"i": 1})
    jobapi.report(summary={"acc": 0.9, "curve": [1, 2]})
    jobapi.report(summary={"acc": 0.95})
    assert jobapi.task_info().summary == {"acc": 0.95, "curve": [1, 2]}
    jobapi.report(status="success")          # outside `loop`: reported at once
    done = jobapi.task_info()
    assert (done.status, done.worker_id) == ("success", None)
    with pytest.raises(RuntimeError, match="no longer running"):
        jobapi.report(summary={"late": 1})
    with pytest.raises(claims.UserError):
        jobapi.report(status="running")


def test_worker_modules_do_not_import_textual():
    code = ("import sys, labtasker_tui.worker.runner, labtasker_tui.jobapi, "
            "labtasker_tui.cli.loop_cmd, labtasker_tui.cli.worker_cmd; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_idle_claim_takes_no_write(db_url, queue):
    submit(db_url, queue, [{"args": {"i": 1}}])

    async def go(store):
        wid = await worker_rows.register_worker(store)
        seq0 = await store.change_seq()
        assert await claims.claim_next(store, wid, required_fields=["other"]) is None
        seq1 = await store.change_seq()
        await worker_rows.set_worker_status(store, wid, "suspended")
        with pytest.raises(worker_rows.WorkerInactive, match="suspended"):
            await claims.claim_next(store, wid, required_fields=["other"])
        return seq0, seq1

    seq0, seq1 = with_store(db_url, queue, go)
    assert seq0 == seq1


# -- fault rules (unit level; the real-process cases are in tests/faults/test_loop_faults.py) --


def test_fencing_kills_before_the_task_can_be_reclaimed():
    from labtasker_tui.worker.config import LoopConfig
    from labtasker_tui.worker.lease import fence_margin, kill_grace

    for hb in (1.0, 1.5, 2, 3, 10, 30, 60, 600):
        interval = LoopConfig(url="", queue="q", command="true", heartbeat_timeout=hb).interval
        margin = fence_margin(hb)
        # fenced at (last proven beat + hb - margin), dead at most kill_grace later: before
        # the sweep may hand the task out (last beat + hb), with room to spare
        assert kill_grace(hb) < margin * 0.5
        # a healthy loop beats at least once before it would fence itself
        assert interval < hb - margin


def test_transient_and_fatal_database_errors():
    import sqlite3

    from sqlalchemy.exc import DatabaseError, OperationalError

    from labtasker_tui.worker.db_calls import is_transient

    def op(msg, cls=OperationalError, orig=sqlite3.OperationalError):
        return cls("SELECT 1", {}, orig(msg))

    assert is_transient(op("database is locked"))
    assert is_transient(ConnectionResetError())
    assert not is_transient(op("file is not a database", DatabaseError, sqlite3.DatabaseError))
    assert not is_transient(op("database disk image is malformed", DatabaseError,
                               sqlite3.DatabaseError))
    assert not is_transient(op("no such table: tasks"))
    assert not is_transient(ValueError("x"))


def test_task_ids_and_terminal_text_are_inert():
    from labtasker_tui.log_paths import canonical_task_id
    from labtasker_tui.safe_text import inert

    assert canonical_task_id("6f0c5f0e-1d7e-4c39-9a55-3f7f5cfc1c01")
    for bad in ("../../x", "6F0C5F0E-1D7E-4C39-9A55-3F7F5CFC1C01", "", "6f0c5f0e1d7e4c399a55"
                "3f7f5cfc1c01", "{6f0c5f0e-1d7e-4c39-9a55-3f7f5cfc1c01}", "a/b", "."):
        assert not canonical_task_id(bad), bad
    assert inert("plain é 漢") == "plain é 漢"
    assert inert("a\x1b[2Jb\x07\r\n\u202e\x00") == "a\\x1b[2Jb\\x07\\r\\n\\u202e\\x00"


def test_watchdog_kills_registered_groups_when_its_pipe_closes(tmp_path):
    from labtasker_tui.worker.watchdog import Watchdog

    dog = Watchdog(grace=0.3)
    dog.restart()
    stubborn = subprocess.Popen(["/bin/sh", "-c", "trap '' TERM; sleep 30 & wait"],
                                start_new_session=True)
    gentle = subprocess.Popen(["sleep", "30"], start_new_session=True)
    dog.add(stubborn.pid)
    dog.add(gentle.pid)
    dog.remove(gentle.pid)           # ended normally as far as the loop knows
    dog._proc.kill()                 # the helper itself is killed ...
    dog._proc.wait()
    dog.ensure()                     # ... and restarted with the groups still registered
    t0 = time.monotonic()
    dog.close()                      # EOF, as when the loop dies
    assert stubborn.wait(5) == -signal.SIGKILL
    assert time.monotonic() - t0 < 2
    assert gentle.poll() is None     # not registered: untouched
    gentle.kill()
    gentle.wait()
