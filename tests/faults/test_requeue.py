"""`requeue`: failed (and cancelled) tasks back to pending with attempts reset, after a
preview; applied exactly as shown (another process changing a shown task makes it refuse,
nothing written); journaled and undone. SQLite and PostgreSQL, real processes."""

from __future__ import annotations

import asyncio
import json

from conftest import cli
from test_apply_exact import Tty, _records, _submit


def _set(db: str, queue: str, ids: list[str], status: str) -> None:
    """As workers would leave them (a failed task has used its attempts)."""
    from sqlalchemy import update

    from labtasker_tui.schema import tasks
    from labtasker_tui.store.task_store import open_store

    async def main() -> None:
        store = open_store(db, queue)
        try:
            async with store.write() as conn:
                await conn.execute(update(tasks).where(tasks.c.task_id.in_(ids))
                                   .values(status=status, retries=3, worker_id="w1"))
        finally:
            await store.close()

    asyncio.run(main())


def _grid(db: str, queue: str) -> list[str]:
    ids = [_submit(db, queue, "--g", str(i % 2), "--k", f"t{i}") for i in range(6)]
    _set(db, queue, ids[:3], "failed")  # g 0, 1, 0
    _set(db, queue, ids[3:4], "cancelled")  # g 1
    _set(db, queue, ids[4:5], "success")  # g 0
    return ids


def test_requeue_previews_applies_and_undoes(fault_url, fault_queue):
    ids = _grid(fault_url, fault_queue)
    before = _records(fault_url, fault_queue)
    res = cli(fault_url, "requeue", "-f", "args.g == 0", "--cancelled", "--dry-run",
              queue=fault_queue)
    assert res.returncode == 0, res.stderr
    assert "Dry run: 2 tasks (2 failed) would be requeued; nothing written." in res.stderr
    assert ids[0][:8] in res.stderr and ids[2][:8] in res.stderr
    assert ids[4][:8] not in res.stderr  # success is never requeued
    assert _records(fault_url, fault_queue) == before
    res = cli(fault_url, "requeue", "-f", "args.g == 1", queue=fault_queue)  # not a terminal
    assert res.returncode == 2 and "Refusing without --yes" in res.stderr
    res = cli(fault_url, "requeue", "--cancelled", "-y", queue=fault_queue)
    assert res.returncode == 0, res.stderr
    assert "Requeued 4 tasks" in res.stdout
    now = _records(fault_url, fault_queue)
    for i in ids[:4]:
        assert (now[i]["status"], now[i]["retries"], now[i]["worker_id"]) == ("pending", 0, None)
    assert now[ids[4]] == before[ids[4]] and now[ids[5]] == before[ids[5]]
    res = cli(fault_url, "requeue", "-y", queue=fault_queue)
    assert res.returncode == 0 and "No failed task matches" in res.stderr
    res = cli(fault_url, "undo", "-y", queue=fault_queue)
    assert res.returncode == 0, res.stderr
    assert "3 tasks back to failed; 1 task back to cancelled" in res.stdout
    after = _records(fault_url, fault_queue)
    assert after == before


def test_requeue_applies_exactly_what_it_showed(fault_url, fault_queue):
    ids = _grid(fault_url, fault_queue)
    before = _records(fault_url, fault_queue)
    tty = Tty(fault_url, fault_queue, "requeue", "-f", "args.g >= 0")
    tty.read_until(b"[y/N]")
    # meanwhile another process changes one of the shown tasks
    res = cli(fault_url, "update", "--id", ids[1], "-y", "--", "priority=7", queue=fault_queue)
    assert res.returncode == 0, res.stderr
    rc, out = tty.answer("y\n")
    assert rc == 2, out
    assert "selection changed" in out and "nothing updated" in out
    now = _records(fault_url, fault_queue)
    assert {k: v["status"] for k, v in now.items()} == {k: v["status"]
                                                        for k, v in before.items()}
    assert json.dumps(now[ids[0]], sort_keys=True) == json.dumps(before[ids[0]],
                                                                 sort_keys=True)
