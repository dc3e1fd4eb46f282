"""`sweep`, `sweep fill` and `sweep ls` as a script uses them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from labtasker_tui.cli.main import cli


@pytest.fixture
def lt(db_url, queue):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, ["--db", db_url, "--queue", queue, *args], input=input,
                             catch_exceptions=False)

    return invoke


@pytest.fixture
def lite(tmp_path):
    """The CLI on a SQLite file, and a dump of that file (to compare before/after)."""
    path = tmp_path / "t.db"
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, ["--db", str(path), *args], catch_exceptions=False)

    def dump() -> list[str]:
        if not path.exists():
            return []
        con = sqlite3.connect(path)
        try:
            return list(con.iterdump())
        finally:
            con.close()

    invoke.dump = dump  # type: ignore[attr-defined]
    invoke.path = path  # type: ignore[attr-defined]
    return invoke


def tasks(lt, flt: str | None = None) -> list[dict]:
    res = lt("export", *(["-f", flt] if flt else []))
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines()]


def fetch_order_args(lt, name: str) -> list[dict]:
    res = lt("ls", "--format", "jsonl", "-f", f"metadata.sweep.name == '{name}'")
    return [json.loads(line)["args"] for line in res.stdout.splitlines()]


GRID = ["--lr", "1e-3,1e-2,1e-1", "--model", "vit,resnet", "--seed", "0..4"]
PRODUCT = [{"lr": lr, "model": m, "seed": s}
           for lr, m, s in itertools.product([1e-3, 1e-2, 1e-1], ["vit", "resnet"], range(5))]


def test_sweep_submits_the_product_in_order_with_its_identity(lt):
    res = lt("sweep", "--name", "g1", "--priority", "20", "--", *GRID)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("Submitted 30 tasks: sweep g1 (id ")
    sweep_id = res.stdout.split("(id ")[1].split(")")[0]
    lt("submit", "--", "--lr", "0.5")  # not part of the sweep
    got = tasks(lt, "metadata.sweep.name == 'g1'")
    assert len(got) == 30 and len(tasks(lt)) == 31
    assert all(t["metadata"] == {"sweep": {"name": "g1", "id": sweep_id}} for t in got)
    assert all(t["priority"] == 20 and t["task_name"] == "g1" for t in got)
    # the fetch order (what workers claim next) is the expansion order
    assert fetch_order_args(lt, "g1") == PRODUCT
    res = lt("facets", "metadata.sweep.name", "--format", "json")
    assert res.exit_code == 0 and "g1" in res.stdout
    res = lt("count", "-f", f"metadata.sweep.id == '{sweep_id}'")
    assert res.stdout.split()[-2:] == ["total", "30"]
    res = lt("sweep", "ls", "--format", "json")
    [row] = json.loads(res.stdout)
    assert row["name"] == "g1" and row["id"] == sweep_id and row["tasks"] == 30
    assert row["by_status"]["pending"] == 30


def test_fill_resubmits_exactly_the_deleted_tasks_and_extends_a_grid(lt):
    assert lt("sweep", "--name", "g", "--", *GRID).exit_code == 0
    victims = [t for t in tasks(lt) if t["args"]["seed"] in (1, 3) and t["args"]["lr"] == 0.01]
    res = lt("delete", "-y", *[x for t in victims for x in ("--id", t["task_id"])])
    assert res.exit_code == 0, res.output
    lt("update", "-y", "-f", "args.seed == 0", "--", "status=failed")  # any status is present
    res = lt("sweep", "fill", "g", "--dry-run", "--format", "json")
    assert res.exit_code == 0 and len(tasks(lt)) == 26
    assert sorted(json.dumps(r, sort_keys=True) for r in json.loads(res.stdout)) == sorted(
        json.dumps(t["args"], sort_keys=True) for t in victims)
    res = lt("sweep", "fill", "g")
    assert res.exit_code == 0 and "submitted 4 missing tasks (26 already present)" in res.stdout
    assert sorted(json.dumps(t["args"], sort_keys=True) for t in tasks(lt)) == sorted(
        json.dumps(a, sort_keys=True) for a in PRODUCT)
    res = lt("sweep", "fill", "g", "-q")
    assert res.exit_code == 0 and res.stdout == ""
    # one more lr value: only its 10 configurations are new; the base and rng are kept
    res = lt("sweep", "fill", "g", "--", "--lr", "1e-3,1e-2,1e-1,1", "--model", "vit,resnet",
             "--seed", "0..4")
    assert "submitted 10 missing tasks (30 already present)" in res.stdout
    new = [t["args"] for t in tasks(lt) if t["args"]["lr"] == 1]
    assert sorted(json.dumps(a, sort_keys=True) for a in new) == sorted(
        json.dumps({"lr": 1, "model": m, "seed": s}, sort_keys=True)
        for m in ("vit", "resnet") for s in range(5))
    assert len({t["metadata"]["sweep"]["id"] for t in tasks(lt)}) == 1
    res = lt("sweep", "fill", "g")  # the extended spec is the stored one now
    assert "submitted 0 missing tasks (40 already present)" in res.stdout


def test_random_sweeps_are_reproducible_and_fill_draws_the_same(lt):
    axes = ["--lr", "loguniform(1e-4,1e-1)", "--bs", "choice(32,64)", "--seed", "0..1"]
    a = lt("sweep", "--name", "r1", "--samples", "4", "--rng", "7", "--", *axes)
    # the same draws again: a second copy only with --dedup allow (skip leaves them out)
    assert lt("sweep", "--name", "r0", "--samples", "4", "--rng", "7", "--", *axes
              ).stdout.startswith("Submitted 0 tasks")
    b = lt("sweep", "--name", "r2", "--samples", "4", "--rng", "7", "--dedup", "allow",
           "--", *axes)
    assert a.exit_code == b.exit_code == 0
    r1, r2 = fetch_order_args(lt, "r1"), fetch_order_args(lt, "r2")
    assert r1 == r2 and len(r1) == 8 and len({x["lr"] for x in r1}) == 4
    lt("delete", "-y", "-f", "metadata.sweep.name == 'r1' and args.seed == 1")
    assert "submitted 4 missing" in lt("sweep", "fill", "r1", "--dedup", "allow").stdout
    assert sorted(map(json.dumps, fetch_order_args(lt, "r1"))) == sorted(map(json.dumps, r2))
    # more samples (the seed kept): the first draws stay, 2 × 2 new tasks
    res = lt("sweep", "fill", "r1", "--samples", "6", "--", *axes)
    assert "submitted 4 missing tasks (8 already present)" in res.stdout
    # no --rng: one is drawn, printed and kept with the sweep
    res = lt("sweep", "--name", "r3", "--samples", "2", "--", *axes)
    assert res.exit_code == 0 and "rng " in res.stderr


def test_a_sweep_file(lt, tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("name: fy\nbase:\n  args: {epochs: 10}\n  metadata: {owner: ada}\n"
                    "  cmd: python train.py --lr %(lr)\naxes:\n  lr: [1e-3, 1e-2]\n"
                    "  opt.momentum: 0.9,0.99\n")
    res = lt("sweep", "--file", str(path), "--priority", "5")
    assert res.exit_code == 0, res.output
    got = tasks(lt)
    assert [t["args"] for t in got] == [
        {"epochs": 10, "lr": lr, "opt": {"momentum": m}}
        for lr in (1e-3, 1e-2) for m in (0.9, 0.99)]
    assert {t["cmd"] for t in got} == {"python train.py --lr %(lr)"}
    assert all(t["priority"] == 5 and t["metadata"]["owner"] == "ada" for t in got)


def test_dry_run_prints_the_table_and_writes_nothing(lite):
    res = lite("sweep", "--dry-run", "--", *GRID, "--epochs", "3")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["#", "lr", "model", "seed"]  # fixed --epochs is no column
    assert lines[1].split() == ["1", "0.001", "vit", "0"] and len(lines) == 31
    assert "lr (3) × model (2) × seed (5) = 30 tasks" in res.stderr
    assert not lite.path.exists()  # not even created
    res = lite("sweep", "--dry-run", "--format", "csv", "--", *GRID)
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["lr", "model", "seed"] and rows[1] == ["0.001", "vit", "0"]
    assert lite("init").exit_code == 0
    before = lite.dump()
    res = lite("sweep", "--dry-run", "--format", "json", "--", *GRID)
    assert json.loads(res.stdout) == PRODUCT
    assert lite.dump() == before


BAD = [
    (["--", "--lr", "5..1"], "--lr: bad range '5..1'"),
    (["--", "--lr", "a..b"], "--lr: bad range 'a..b'"),
    (["--", "--lr", "1,,2"], "--lr: empty value"),
    (["--", "--lr", ""], "--lr: no values"),
    (["--zip", "lr,wd", "--", "--lr", "1,2", "--wd", "1,2,3"], "zip lr,wd: the axes must"),
    (["--zip", "lr,x", "--", "--lr", "1,2"], "zip lr,x: no axis 'x'"),
    (["--samples", "3", "--", "--lr", "gauss(0,1)"], "--lr: unknown distribution 'gauss'"),
    (["--samples", "0", "--", "--lr", "uniform(0,1)"], "--samples: expected a whole number"),
    (["--", "--lr", "uniform(0,1)"], "random axis --lr: give the number of draws"),
    (["--", "--lr", "1", "--lr", "2"], "duplicate axis --lr"),
    (["--", "--lr", "1e400"], "--lr: '1e400' is not a JSON value"),
    (["--samples", "2", "--", "--lr", "uniform(0,inf)"], "--lr: uniform() needs a number"),
    (["--", "--a", "0..200", "--b", "0..99"], "more than --max-tasks 10,000"),
    (["--max-tasks", "5", "--", "--a", "0..5"], "6 tasks, more than --max-tasks 5"),
    (["--metadata", "{'sweep': 1}", "--", "--a", "1"], "metadata.sweep is set by the sweep"),
    (["--name", "bad name", "--", "--a", "1"], "sweep name 'bad name'"),
    (["--dry-run"], "no axes"),
    (["--task-name", "x" * 101, "--", "--a", "1"], "task 1: task_name"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m for _, m in BAD])
def test_bad_specs_exit_2_and_write_nothing(lite, args, message):
    assert lite("sweep", "--name", "ok", "--", "--a", "1,2").exit_code == 0
    before = lite.dump()
    res = lite("sweep", *args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert lite.dump() == before


def test_a_taken_name_or_unknown_fill_exits_2(lite):
    assert lite("sweep", "--name", "s", "--", "--a", "1,2").exit_code == 0
    before = lite.dump()
    res = lite("sweep", "--name", "s", "--", "--a", "3")
    assert res.exit_code == 2 and "a sweep named 's' exists" in res.stderr
    res = lite("sweep", "fill", "nope")
    assert res.exit_code == 2 and "no sweep named 'nope'" in res.stderr
    res = lite("sweep", "fill", "s", "--", "--a", "5..1")
    assert res.exit_code == 2 and "bad range" in res.stderr
    res = lite("sweep", "fill", "s", "--priority", "3")
    assert res.exit_code == 2 and "need the axes too" in res.stderr
    assert lite.dump() == before


def test_generated_name_is_printed_and_quiet_prints_ids(lite):
    res = lite("sweep", "--", "--lr", "1,2", "--model", "a,b")
    name = res.stdout.split("sweep ")[1].split(" ")[0]
    assert name.startswith("lr-model-") and len(name) == len("lr-model-") + 4
    res = lite("sweep", "-q", "--name", "q", "--", "--lr", "1,2")
    ids = res.stdout.split()
    assert len(ids) == 2 and all(len(x) == 36 for x in ids)


def test_an_error_inside_the_write_leaves_nothing(db_url, queue, monkeypatch, lt):
    """Tasks, the sweeps row and the journal entry are one transaction."""
    from labtasker_tui.store import journal

    assert lt("sweep", "--name", "keep", "--", "--a", "1").exit_code == 0
    before = tasks(lt)

    async def boom(*args, **kwargs):
        raise RuntimeError("injected after the inserts")

    monkeypatch.setattr(journal, "record", boom)
    with pytest.raises(RuntimeError, match="injected"):
        lt("sweep", "--name", "s", "--", "--a", "0..99")
    monkeypatch.undo()
    assert tasks(lt) == before
    assert [r["name"] for r in json.loads(lt("sweep", "ls", "--format", "json").stdout)] == [
        "keep"]


def test_a_killed_sweep_writes_nothing(tmp_path):
    """SIGKILL while the tasks are being inserted: all or nothing (SQLite rolls back)."""
    db = tmp_path / "k.db"
    env = {**os.environ}
    env.pop("LABTASKER_TUI_DB", None)
    subprocess.run([sys.executable, "-m", "labtasker_tui", "--db", str(db), "init"], env=env,
                   check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "labtasker_tui", "--db", str(db), "sweep",
                             "--yes", "--name", "big", "--", "--a", "0..299", "--b", "0..99"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wal = tmp_path / "k.db-wal"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 200_000:
            break
        time.sleep(0.005)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    con = sqlite3.connect(db)
    n = con.execute("SELECT count(*) FROM tasks").fetchone()[0]
    rows = con.execute("SELECT name FROM sweeps").fetchall()
    con.close()
    assert (n, rows) in ((0, []), (30_000, [("big",)]))  # never a part
    assert alive and n == 0  # killed mid-write (the insert takes far longer than the poll)


def test_v3_database_gains_the_sweeps_table(tmp_path):
    db = tmp_path / "old.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "submit", "--", "--a", "1"]).exit_code == 0
    con = sqlite3.connect(db)
    con.executescript("DROP TABLE sweeps;"
                      "UPDATE schema_info SET value = '3' WHERE key = 'schema_version';")
    con.close()
    res = runner.invoke(cli, ["--db", str(db), "sweep", "--name", "s", "--", "--a", "2,3"])
    assert res.exit_code == 0, res.output
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM schema_info").fetchone() == ("4",)
    assert con.execute("SELECT count(*) FROM tasks").fetchone() == (3,)
    con.close()


def test_undo_removes_a_submitted_sweep(lite):
    assert lite("sweep", "--name", "u", "--", "--a", "0..4").exit_code == 0
    res = lite("undo", "-y")
    assert res.exit_code == 0, res.output
    assert tasks(lite) == []
    assert "submitted 5 missing" in lite("sweep", "fill", "u").stdout


def test_two_fills_at_once_submit_the_missing_tasks_once(db_url, queue, lt):
    """Both fills wait on a writer holding the sweep (the SQLite write lock; on PostgreSQL
    the sweeps row, locked FOR UPDATE); the second then sees the first's tasks."""
    assert lt("sweep", "--name", "c", "--", "--a", "0..9").exit_code == 0
    assert lt("delete", "-y", "-f", "args.a >= 5").exit_code == 0
    env = {**os.environ}
    env.pop("LABTASKER_TUI_DB", None)
    if db_url.startswith("sqlite"):
        lock = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        lock = psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"))
        lock.execute("SELECT 1 FROM sweeps WHERE queue = %s AND name = 'c' FOR UPDATE",
                     (queue,))
    try:
        fills = [subprocess.Popen([sys.executable, "-m", "labtasker_tui", "--db", db_url,
                                   "--queue", queue, "sweep", "fill", "c"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        time.sleep(2.0)
        assert [f.poll() for f in fills] == [None, None]  # both waiting for the lock
    finally:
        if isinstance(lock, sqlite3.Connection):
            lock.execute("ROLLBACK")
        else:
            lock.rollback()
        lock.close()
    outs = sorted(f.communicate(timeout=60)[0] for f in fills)
    assert all(f.returncode == 0 for f in fills), outs
    assert "submitted 0 missing tasks (10 already present)" in outs[0]
    assert "submitted 5 missing tasks (5 already present)" in outs[1]
    assert sorted(t["args"]["a"] for t in tasks(lt)) == list(range(10))


def test_sweep_does_not_import_textual(tmp_path):
    code = ("import sys\n"
            f"sys.argv = ['labtasker-tui', '--db', r'{tmp_path / 't.db'}', 'sweep', '--name', 's',"
            " '--', '--a', '1,2']\n"
            "from labtasker_tui.cli.main import cli\n"
            "try:\n    cli(prog_name='labtasker-tui')\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert "labtasker_tui.store.sweeps" in out and "Submitted" in out
    assert not [m for m in out if m.split(".")[0] == "textual"]


def _set_failed(db_url, queue, ids):
    from test_dedup_cli import set_status

    set_status(db_url, queue, ids, "failed")


def test_a_sweep_skips_configurations_the_queue_has(lt):
    """--dedup skip (the default): a configuration submitted before is left out and reported;
    --dedup error writes nothing; --dedup allow submits it again."""
    lt("submit", "--", "--lr", "0.01", "--model", "vit")
    res = lt("sweep", "--name", "a", "--", "--lr", "0.001,0.01", "--model", "vit,resnet")
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines()[0] == "3 new · 1 already present: 1 pending"
    assert res.stdout.startswith("Submitted 3 tasks: sweep a")
    before = sorted(t["task_id"] for t in tasks(lt))
    res = lt("sweep", "--name", "b", "--dedup", "error", "--", "--lr", "0.01,0.001",
             "--model", "resnet")
    assert res.exit_code == 2 and "already present: 2 pending; nothing written" in res.stderr
    assert sorted(t["task_id"] for t in tasks(lt)) == before
    assert "sweep b" not in lt("sweep", "ls").stdout
    res = lt("sweep", "--name", "c", "--dedup", "allow", "--", "--lr", "0.01",
             "--model", "vit")
    assert res.exit_code == 0 and res.stdout.startswith("Submitted 1 task: sweep c")
    assert len(tasks(lt, "args.lr == 0.01 and args.model == 'vit'")) == 2


def test_fill_requeue_failed_resets_the_sweeps_failed_tasks_and_undo_restores(lt, db_url,
                                                                              queue):
    assert lt("sweep", "--name", "r", "-q", "--", "--lr", "0.1,0.2", "--seed", "0..1"
              ).exit_code == 0
    failed = [t["task_id"] for t in tasks(lt, "args.lr == 0.1")]
    _set_failed(db_url, queue, failed)
    res = lt("sweep", "fill", "r")
    assert "submitted 0 missing tasks (4 already present)" in res.stdout
    assert len(tasks(lt, "status == 'failed'")) == 2
    res = lt("sweep", "fill", "r", "--requeue-failed")
    assert res.exit_code == 0, res.output
    assert "Requeued 2 failed tasks" in res.stderr
    back = {t["task_id"]: t for t in tasks(lt, "args.lr == 0.1")}
    assert set(back) == set(failed)
    assert all(t["status"] == "pending" and t["retries"] == 0 for t in back.values())
    assert len(tasks(lt)) == 4
    res = lt("undo", "-y")
    assert res.exit_code == 0, res.output
    assert sorted(t["task_id"] for t in tasks(lt, "status == 'failed'")) == sorted(failed)
