"""Named sweeps of a queue (table ``sweeps``): each one's spec, so that ``sweep fill`` can
expand it again, and the writes that submit a sweep's tasks.

A sweep's tasks are those whose ``metadata.sweep.id`` is the sweep's id. Submitting a new
sweep, or the missing tasks of one, is one write transaction: the sweeps row, the tasks (in
expansion order: their created/modified times step by a microsecond, so that at equal priority
they run in that order) and one journal entry (undo deletes the tasks it submitted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from ..errors import ConflictError, UserError
from ..schema import sweeps, tasks, utcnow
from ..sweeps import SWEEP_KEY, missing_specs
from . import dedup, journal
from .dedup import Dedup, SubmitOutcome
from .rows import new_task_row
from .selection import Selection
from .task_store import TaskStore


@dataclass(frozen=True)
class SweepRecord:
    name: str
    sweep_id: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SweepWrite:
    """What a write did: the sweep, the new task ids, how many of the expanded tasks the sweep
    already had (``fill``), and the deduplication against the queue (of the rest)."""

    record: SweepRecord
    ids: list[str]
    present: int
    outcome: SubmitOutcome


def _record(m: Any) -> SweepRecord:
    return SweepRecord(m["name"], m["sweep_id"], m["spec"], m["created_at"], m["updated_at"])


async def get_sweep(store: TaskStore, name: str) -> SweepRecord | None:
    async with store.read() as conn:
        row = (await conn.execute(select(sweeps).where(
            (sweeps.c.queue == store.queue) & (sweeps.c.name == name)))).first()
    return _record(row._mapping) if row else None


async def list_sweeps(store: TaskStore) -> list[SweepRecord]:
    async with store.read() as conn:
        rows = await conn.execute(select(sweeps).where(sweeps.c.queue == store.queue)
                                  .order_by(sweeps.c.created_at, sweeps.c.name))
        return [_record(r._mapping) for r in rows]


def sweep_selection(store: TaskStore, sweep_id: str) -> Selection:
    """The tasks of a sweep (``metadata.sweep.id == ID``) through the filter compiler."""
    from ..query import filter_to_sql, parse_filter

    compiled = parse_filter({f"metadata.{SWEEP_KEY}.id": sweep_id})
    return Selection(where=filter_to_sql(compiled, store.dialect))


async def sweep_counts(store: TaskStore, record: SweepRecord) -> dict[str, int]:
    return await store.count_by_status(sweep_selection(store, record.sweep_id))


class SweepExists(UserError):
    """A new sweep's name is taken in the queue."""


async def present_args(store: TaskStore, sweep_id: str) -> list[Any]:
    """The args of every task of a sweep (any status), for a dry run of ``fill``."""
    sel = sweep_selection(store, sweep_id)
    async with store.read() as conn:
        return [r[0] for r in await conn.execute(
            select(tasks.c.args).where(store.scope(sel, scan=True)))]


async def write_sweep(store: TaskStore, name: str, sweep_id: str, spec: dict[str, Any],
                      specs: list[dict[str, Any]], *, fill: bool, policy: Dedup = "skip",
                      requeue_failed: bool = False) -> SweepWrite:
    """Submit a sweep's tasks in one transaction and save its spec.

    ``fill=False``: a new sweep; its name must be free in the queue. ``fill=True``: the sweep
    exists with id ``sweep_id``; only the specs whose args are not among its tasks' (any
    status; compared canonically, as multisets) are submitted, and ``spec`` replaces the
    stored one (a changed spec extends the sweep).

    The specs to submit then meet the queue's deduplication (:mod:`.dedup`, as ``submit``:
    ``skip`` leaves out configurations the queue already has, ``error`` writes nothing).
    ``requeue_failed``: failed tasks of the queue with a configuration of this sweep (its
    own, on ``fill``, included) go back to pending, attempts reset. One journal entry: undo
    deletes the submitted tasks and puts the requeued ones back."""
    now = utcnow()
    key = (sweeps.c.queue == store.queue) & (sweeps.c.name == name)
    async with store.write() as conn:
        stmt = select(sweeps.c.sweep_id, sweeps.c.created_at).where(key)
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update()  # two fills of one sweep: the second waits
        row = (await conn.execute(stmt)).first()
        if not fill and row is not None:
            raise SweepExists(f"a sweep named {name!r} exists in queue {store.queue!r}: "
                            f"`sweep fill {name}` submits its missing tasks (with a new spec: "
                            "extends it), or choose another --name")
        if fill and (row is None or row[0] != sweep_id):
            raise ConflictError(f"sweep {name!r} was removed or replaced meanwhile; "
                                "nothing written; run again")
        present = 0
        own_failed: list[Any] = []
        all_rows = _rows(specs, store.queue, now)
        if fill:
            sel = sweep_selection(store, sweep_id)
            mine = [r._mapping for r in await conn.execute(
                select(*[tasks.c[c] for c in dedup.CANDIDATE_COLUMNS])
                .where(store.scope(sel, scan=True)))]
            todo = missing_specs(specs, [m["args"] for m in mine])
            present = len(specs) - len(todo)
            if requeue_failed:  # the sweep's own failed configurations
                own_failed = dedup.plan(all_rows, [m for m in mine if m["status"] == "failed"],
                                        "skip", True).requeue
            keep = {id(t) for t in todo}  # missing_specs returns the specs themselves
            rows = [r for r, t in zip(all_rows, specs, strict=True) if id(t) in keep]
        else:
            rows = all_rows
        planned = await store.plan_dedup(conn, rows, policy, requeue_failed)
        rows = planned.insert
        again = {str(c["task_id"]): c for c in [*own_failed, *planned.requeue]}
        requeued = await store.requeue_copies(conn, list(again.values()), now)
        planned.outcome.requeued = list(again)
        if row is None:
            await conn.execute(sweeps.insert().values(
                queue=store.queue, name=name, sweep_id=sweep_id, spec=spec, created_at=now,
                updated_at=now))
        else:
            await conn.execute(update(sweeps).where(key).values(spec=spec, updated_at=now))
        if rows:
            await store.insert_rows(conn, rows)
        if rows or requeued:
            n, m = len(rows), len(requeued)
            what = f"sweep {name}: {'fill' if fill else 'submit'} {n:,} task{'s' * (n != 1)}"
            if m:
                what += f", requeue {m:,} failed"
            await journal.record(conn, store, "submit", what,
                                 [*((r["task_id"], None, r["version"]) for r in rows),
                                  *requeued])
    created = row[1] if row is not None else now
    return SweepWrite(SweepRecord(name, sweep_id, spec, created, now),
                      [r["task_id"] for r in rows], present, planned.outcome)


def _rows(specs: list[dict[str, Any]], queue: str, now: datetime) -> list[dict[str, Any]]:
    """New task rows in expansion order (created/modified a microsecond apart)."""
    rows = []
    for i, task_spec in enumerate(specs):
        try:
            rows.append(new_task_row(task_spec, queue, now + timedelta(microseconds=i)))
        except UserError as exc:
            raise UserError(f"task {i + 1}: {exc}") from None
    return rows


@dataclass(frozen=True)
class FillPlan:
    """What ``sweep fill NAME`` with the stored spec would submit (the app's preview)."""

    record: SweepRecord
    specs: list[dict[str, Any]]
    missing: int


async def plan_fill(store: TaskStore, name: str) -> FillPlan | None:
    """The stored spec of sweep ``name`` expanded again, and how many of its configurations
    its tasks lack (None: no such sweep in the queue). The write is :func:`write_sweep`."""
    from ..sweeps import spec_from_stored

    record = await get_sweep(store, name)
    if record is None:
        return None
    specs = spec_from_stored(record.spec, name).task_specs(name, record.sweep_id)
    present = await present_args(store, record.sweep_id)
    return FillPlan(record, specs, len(missing_specs(specs, present)))
