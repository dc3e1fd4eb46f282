"""Worker rows as plain data: what the TUI asks the store for."""

from __future__ import annotations

import asyncio

from labtasker_tui.store.task_store import open_store
from labtasker_tui.store.workers import fetch_workers, register_worker
from labtasker_tui.worker_states import WorkerInfo


def test_fetch_workers_returns_known_ids_of_any_queue(db_url, queue):
    async def go():
        a = open_store(db_url, queue)
        b = open_store(db_url, queue + "-other")
        try:
            wa = await register_worker(a, name="gpu-a", host="node1", slot="0")
            wb = await register_worker(b, name="gpu-b")
            many = [f"missing-{i}" for i in range(600)]  # more than one chunk of ids
            return wa, wb, await fetch_workers(a, [wa, wb, "", *many]), await fetch_workers(a, [])
        finally:
            await a.close()
            await b.close()

    wa, wb, found, none = asyncio.run(go())
    assert set(found) == {wa, wb} and none == {}
    info = found[wa]
    assert isinstance(info, WorkerInfo)
    assert (info.worker_name, info.host, info.slot, info.status) == ("gpu-a", "node1", "0",
                                                                      "active")
    assert found[wb].queue.endswith("-other")
