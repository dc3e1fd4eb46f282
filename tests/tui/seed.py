"""A deterministic seeded database for TUI tests, snapshots and screenshots."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from labtasker_tui.store.task_store import open_store
from labtasker_tui.store.workers import register_worker

FIXED_NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
STATUS_CYCLE = ["pending", "pending", "running", "success", "failed", "success", "cancelled"]
MODELS = ["resnet18", "resnet50", "vit-b16"]
#: (worker_id, name, host, slot): running tasks are spread over these
WORKERS = [
    ("0000a001-0000-4000-8000-00000000a001", "gpu-a", "node1", "0"),
    ("0000a002-0000-4000-8000-00000000a002", None, "node2", "1"),
]


def task_uuid(i: int) -> str:
    return f"{i:08x}-5eed-4000-8000-{i:012x}"


def records(n: int = 30) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        status = STATUS_CYCLE[i % len(STATUS_CYCLE)]
        created = FIXED_NOW - timedelta(hours=3 * (n - i), minutes=7 * i)
        rec: dict[str, Any] = {
            "task_id": task_uuid(i + 1),
            "status": status,
            "task_name": f"grid-{i + 1:03d}",
            "created_at": created.isoformat(),
            "last_modified": (created + timedelta(minutes=40 + i)).isoformat(),
            "priority": [10, 20, 0][i % 3],
            "args": {"lr": [0.1, 0.03, 0.01, 0.003][i % 4], "model": MODELS[i % 3],
                     "opt": {"momentum": 0.9, "wd": 1e-4}, "seed": i},
            "metadata": {"tags": ["sweep-a"] if i % 2 else ["sweep-b", "baseline"]},
        }
        if status in ("running", "success", "failed"):
            rec["start_time"] = (created + timedelta(minutes=5)).isoformat()
        if status == "running":
            rec["worker_id"] = WORKERS[(i // 7) % len(WORKERS)][0]
        if status == "success":
            rec["summary"] = {"acc": round(0.7 + i / 100, 3), "loss": round(1.2 - i / 50, 3)}
        if status == "failed":
            rec["summary"] = {"labtasker_exception": "RuntimeError: CUDA out of memory"}
            rec["retries"] = 3
        out.append(rec)
    return out


async def seed(url: str, n: int = 30) -> None:
    store = open_store(url)
    try:
        await store.import_records(records(n))
        for worker_id, name, host, slot in WORKERS:
            await register_worker(store, name=name, host=host, slot=slot, worker_id=worker_id)
    finally:
        await store.close()


def seed_sync(url: str, n: int = 30) -> None:
    asyncio.run(seed(url, n))
