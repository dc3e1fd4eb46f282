"""Deduplication through every entry point (submit, submit --file, import): the report line,
each policy, --quiet, exit codes, and --requeue-failed then undo. SQLite (the direct path for
one task) and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

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


def set_status(db_url, queue, ids, status):
    """As a worker's report would leave them (the CLI cannot fail a task by hand)."""
    from sqlalchemy import update

    from labtasker_tui.schema import tasks
    from labtasker_tui.store.task_store import open_store

    async def main():
        store = open_store(db_url, queue)
        try:
            async with store.write() as conn:
                await conn.execute(update(tasks).where(tasks.c.task_id.in_(ids))
                                   .values(status=status, retries=3))
        finally:
            await store.close()

    asyncio.run(main())


def total(lt) -> int:
    return json.loads(lt("count", "--format", "json").stdout)["total"]


def test_single_submit_reports_duplicates_and_obeys_the_policy(lt):
    res = lt("submit", "--", "--lr", "1", "--opt.m", "0.9")
    assert res.exit_code == 0 and res.stdout.startswith("Task submitted with ID: ")
    assert res.stderr == ""  # a new task: the usual one line
    # the same configuration: float spelling, keys in another order, nested as a dict
    same = ["--args", '{"opt": {"m": 0.9}, "lr": 1.0}']
    res = lt("submit", *same)  # allow (the default): submitted, and said
    assert res.exit_code == 0 and res.stdout.startswith("Task submitted with ID: ")
    assert res.stderr.splitlines() == ["0 new · 1 already present: 1 pending"]
    res = lt("submit", "--dedup", "skip", *same)
    assert res.exit_code == 0 and res.stdout == ""
    assert "Not submitted: the task is already present (--dedup skip)." in res.stderr
    res = lt("submit", "--dedup", "skip", "-q", *same)
    assert res.exit_code == 0 and res.stdout == "" and res.stderr == ""
    res = lt("submit", "--dedup", "error", *same)
    assert res.exit_code == 2
    assert "--dedup error: 0 new · 1 already present: 1 pending; nothing written" in res.stderr
    assert total(lt) == 2
    # a bool is not a number; another cmd is another configuration
    assert lt("submit", "--dedup", "skip", "-q", "--args", '{"lr": true, "opt.m": 0.9}'
              ).stdout.strip()
    assert lt("submit", "--dedup", "skip", "-q", "--cmd", "x", *same).stdout.strip()
    assert total(lt) == 4


def test_file_submit_counts_the_batch_and_the_queue(lt, tmp_path, db_url, queue):
    grid = tmp_path / "grid.jsonl"
    grid.write_text("".join(json.dumps({"args": {"lr": lr, "model": m}}) + "\n"
                            for lr in (0.1, 1) for m in ("a", "b")))
    res = lt("submit", "--file", str(grid), "--dedup", "skip")
    assert res.exit_code == 0 and len(res.stdout.split()) == 4
    assert res.stderr.splitlines() == ["4 new · 0 already present", "Submitted 4 tasks."]
    ids = res.stdout.split()
    set_status(db_url, queue, ids[:1], "failed")
    bigger = tmp_path / "bigger.jsonl"
    bigger.write_text("".join(json.dumps({"args": {"model": m, "lr": float(lr)}}) + "\n"
                              for lr in (0.1, 1, 10) for m in ("a", "b"))
                      + json.dumps({"args": {"lr": 10, "model": "b"}}) + "\n")
    res = lt("submit", "--file", str(bigger), "--dedup", "error")
    assert res.exit_code == 2 and total(lt) == 4
    assert ("--dedup error: 2 new · 4 already present: 1 failed, 3 pending · 1 repeated in the"
            " input; nothing written") in res.stderr
    res = lt("submit", "--file", str(bigger), "--dedup", "skip", "-q")
    assert res.exit_code == 0 and len(res.stdout.split()) == 2 and res.stderr == ""
    assert total(lt) == 6
    res = lt("submit", "--file", str(bigger), "--dedup", "skip", "--requeue-failed")
    assert res.exit_code == 0 and res.stdout == ""
    assert res.stderr.splitlines() == [
        "0 new · 7 already present: 1 failed, 6 pending",
        "Requeued 1 failed task (undo: labtasker-tui undo).", "Submitted 0 tasks."]
    assert json.loads(lt("count", "--format", "json").stdout).get("failed", 0) == 0
    res = lt("undo", "-y")
    assert res.exit_code == 0, res.stderr
    assert json.loads(lt("count", "--format", "json").stdout)["failed"] == 1
    res = lt("submit", "--file", str(bigger))  # allow: everything, and said
    assert res.exit_code == 0 and len(res.stdout.split()) == 7
    assert res.stderr.splitlines()[0] == "0 new · 7 already present: 1 failed, 6 pending"


def test_import_dedup(lt, tmp_path):
    lt("submit", "-q", "--", "--lr", "1")
    recs = tmp_path / "recs.jsonl"
    recs.write_text(json.dumps({"args": {"lr": 1.0}, "status": "success"}) + "\n"
                    + json.dumps({"args": {"lr": 2}}) + "\n")
    res = lt("import", str(recs), "--dedup", "error")
    assert res.exit_code == 2 and "1 new · 1 already present: 1 pending" in res.stderr
    res = lt("import", str(recs), "--dedup", "skip")
    assert res.exit_code == 0, res.stderr
    assert res.stderr.splitlines() == ["1 new · 1 already present: 1 pending"]
    assert res.stdout.strip() == "Imported 1 tasks (1 new)."
    res = lt("import", str(recs), "-q")  # allow, quiet: no output at all
    assert res.exit_code == 0 and res.stdout == res.stderr == ""
    assert total(lt) == 4
