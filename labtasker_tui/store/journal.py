"""The edit journal: every user change (app or CLI) with the before-image of each task, so
that it can be undone, and the undo redone.

An entry is written in the same transaction as its change (TaskStore's write methods call
:func:`record`); the undo of an entry is itself an entry (kind ``undo``, or ``redo`` when it
reverses an undo), written in one transaction with the rows it restores. Undo refuses, and
writes nothing, when a task changed since the entry (its version is not the one the entry
recorded after the change, or a deleted task's id exists again).

Retention (automatic, at each journaled write, in its transaction): the newest
``LABTASKER_TUI_JOURNAL_KEEP`` entries per queue (default 200), and none older than
``LABTASKER_TUI_JOURNAL_DAYS`` days (default 30). ``LABTASKER_TUI_JOURNAL=0`` turns journaling
off for a process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update

from ..canonical import args_hash
from ..errors import ConflictError, UserError
from ..fields import FIELDS
from ..schema import journal, journal_tasks, tasks, utcnow

# the journal's rules (no database) live in journal_rules; re-exported here
from .journal_rules import DEFAULT_DAYS as DEFAULT_DAYS
from .journal_rules import DEFAULT_KEEP as DEFAULT_KEEP
from .journal_rules import describe_update as describe_update
from .journal_rules import enabled as enabled
from .journal_rules import keep_days as keep_days
from .journal_rules import keep_entries as keep_entries
from .journal_rules import who as who
from .rows import JSON_FIELDS, TASK_FIELDS, TIME_FIELDS, json_dumps, json_loads

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from ..models import Task
    from .store_core import StoreCore
    from .task_store import TaskStore

CHUNK = 5000

#: (task id, before-image JSON text or None when the change created it, version after the
#: change or None when it deleted the task)
Item = tuple[str, str | None, int | None]


def actor(store: StoreCore) -> str:
    """``cli`` unless the app marked its store (``store.actor = "app"``)."""
    return str(getattr(store, "actor", None) or "cli")


# -- images ----------------------------------------------------------------------------------

def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


#: (column, field name, is a time) of every field, in the field table's order.
_IMAGE_FIELDS = tuple((f.column, f.name, f.kind == "time") for f in FIELDS)


def image_of_task(task: Task) -> str:
    """The full row of a task as JSON text (column names, ISO 8601 UTC times)."""
    d = task.__dict__
    return json_dumps({col: _stamp(d[name]) if time else d[name]
                       for col, name, time in _IMAGE_FIELDS})


def image_of_row(m: Mapping[Any, Any]) -> str:
    return json_dumps({k: _stamp(m[k]) if k in TIME_FIELDS else m[k] for k in TASK_FIELDS})


def row_of_image(text: str) -> dict[str, Any]:
    return _row_of(json_loads(text))


def _row_of(d: dict[str, Any]) -> dict[str, Any]:
    row = {k: datetime.fromisoformat(d[k]) if k in TIME_FIELDS and d.get(k) is not None
           else d.get(k) for k in TASK_FIELDS}
    row["args_hash"] = args_hash(row["args"])  # images from before schema v4 have none
    return row


# -- writing -----------------------------------------------------------------------------------

async def record(conn: AsyncConnection, store: StoreCore, kind: str, summary: str,
                 items: Sequence[Item], *, undo_of: int | None = None,
                 force: bool = False) -> int | None:
    """Write one entry and its task rows inside the caller's transaction; prune old entries.
    Returns the entry id (None: nothing to record, or journaling is off)."""
    if not items or not (force or enabled()):
        return None
    entry_id = await begin_entry(conn, store, kind, summary, len(items), undo_of=undo_of)
    await add_items(conn, store, entry_id, items)
    return entry_id


async def begin_entry(conn: AsyncConnection, store: StoreCore, kind: str, summary: str,
                      count: int, *, undo_of: int | None = None) -> int:
    """The entry row (its tasks follow with :func:`add_items`, in batches for large changes,
    so that before-images never all sit in memory); prunes old entries."""
    now = utcnow()
    entry_id = (await conn.execute(insert(journal).values(
        created_at=now, queue=store.queue, kind=kind, summary=summary, who=who(),
        actor=actor(store), task_count=count, undo_of=undo_of,
    ).returning(journal.c.id))).scalar_one()
    await prune(conn, store.queue, now=now)
    return int(entry_id)


async def add_items(conn: AsyncConnection, store: StoreCore, entry_id: int,
                    items: Sequence[Item]) -> None:
    """Task rows of an entry: one executemany of pre-serialised values on SQLite."""
    if store.dialect == "sqlite":
        sql = ("INSERT INTO journal_tasks (entry_id, task_id, before_image, after_version)"
               " VALUES (?, ?, ?, ?)")
        for i in range(0, len(items), CHUNK * 4):
            await conn.exec_driver_sql(
                sql, [(entry_id, t, b, v) for t, b, v in items[i:i + CHUNK * 4]])
        return
    for i in range(0, len(items), CHUNK):
        await conn.execute(insert(journal_tasks), [
            {"entry_id": entry_id, "task_id": t, "before_image": b, "after_version": v}
            for t, b, v in items[i:i + CHUNK]])


async def prune(conn: AsyncConnection, queue: str, *, now: datetime | None = None) -> int:
    """Drop entries beyond the retention of ``queue`` (count) and of every queue (age).
    Cheap when there is nothing to drop: two index lookups. Returns the entries dropped."""
    now = now or utcnow()
    cutoff = (await conn.execute(
        select(journal.c.id).where(journal.c.queue == queue).order_by(journal.c.id.desc())
        .offset(keep_entries()).limit(1))).scalar()
    old = select(journal.c.id).where(journal.c.created_at < now - timedelta(days=keep_days()))
    conds = [journal.c.id.in_(old)]
    if cutoff is not None:
        conds.append((journal.c.queue == queue) & (journal.c.id <= cutoff))
    from sqlalchemy import or_

    ids = list((await conn.execute(select(journal.c.id).where(or_(*conds)))).scalars())
    if not ids:
        return 0
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        await conn.execute(delete(journal_tasks).where(journal_tasks.c.entry_id.in_(chunk)))
        await conn.execute(delete(journal).where(journal.c.id.in_(chunk)))
    return len(ids)


# -- reading -----------------------------------------------------------------------------------

@dataclass
class Entry:
    id: int
    created_at: datetime
    queue: str
    kind: str
    summary: str
    who: str
    actor: str
    task_count: int
    undo_of: int | None
    undone_by: int | None


def _entry(row: Any) -> Entry:
    return Entry(**{k: row._mapping[k] for k in Entry.__dataclass_fields__})


async def entries(store: TaskStore, limit: int = 20) -> list[Entry]:
    """The newest entries of the store's queue, newest first."""
    async with store.read() as conn:
        rows = await conn.execute(select(journal).where(journal.c.queue == store.queue)
                                  .order_by(journal.c.id.desc()).limit(limit))
        return [_entry(r) for r in rows]


async def _target(conn: AsyncConnection, store: TaskStore, entry_id: int | None,
                  redo: bool) -> Entry:
    stmt = select(journal)
    if entry_id is not None:
        stmt = stmt.where(journal.c.id == entry_id)
    else:
        kind = journal.c.kind == "undo" if redo else journal.c.kind != "undo"
        stmt = (stmt.where(journal.c.queue == store.queue, journal.c.undone_by.is_(None), kind)
                .order_by(journal.c.id.desc()).limit(1))
    row = (await conn.execute(stmt)).first()
    if row is None:
        if entry_id is not None:
            raise UserError(f"journal entry {entry_id} not found (kept: the last"
                            f" {keep_entries()} entries per queue, {keep_days():g} days)")
        what = "undone change to redo" if redo else "change to undo"
        raise UserError(f"no {what} in queue {store.queue!r}")
    entry = _entry(row)
    if entry.queue != store.queue:
        raise UserError(f"journal entry {entry.id} belongs to queue {entry.queue!r};"
                        f" use --queue {entry.queue}")
    return entry


# -- undo --------------------------------------------------------------------------------------

@dataclass
class UndoPlan:
    """What undoing ``entry`` does: ``preview`` is the one-line description users confirm."""

    entry: Entry
    verb: str  # undo | redo
    preview: str
    conflicts: list[str] = field(default_factory=list)
    new_entry: int | None = None
    # internal: (task id, target row image (parsed) or None, current row or None)
    steps: list[tuple[str, dict[str, Any] | None, Any]] = field(default_factory=list, repr=False)

    @property
    def task_ids(self) -> list[str]:
        return [s[0] for s in self.steps]


async def _plan(conn: AsyncConnection, store: TaskStore, entry: Entry) -> UndoPlan:
    from .store_core import TASK_COLUMNS

    items = (await conn.execute(
        select(journal_tasks.c.task_id, journal_tasks.c.before_image,
               journal_tasks.c.after_version)
        .where(journal_tasks.c.entry_id == entry.id))).all()
    ids = [r[0] for r in items]
    current: dict[str, Any] = {}
    for i in range(0, len(ids), 10_000):
        stmt = select(*TASK_COLUMNS).where(store.ids_in(tasks.c.task_id, ids[i:i + 10_000]))
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update()
        current.update({r._mapping["task_id"]: r._mapping for r in await conn.execute(stmt)})
    verb = "redo" if entry.kind == "undo" else "undo"
    plan = UndoPlan(entry, verb, "")
    for task_id, before, after_version in items:
        now = current.get(task_id)
        if after_version is None and now is not None:
            plan.conflicts.append(f"task {task_id} exists again (status {now['status']})")
        elif after_version is not None and now is None:
            plan.conflicts.append(f"task {task_id} was deleted since")
        elif now is not None and now["version"] != after_version:
            plan.conflicts.append(
                f"task {task_id} changed since (version {now['version']}, expected"
                f" {after_version}; now {now['status']})")
        plan.steps.append((task_id, None if before is None else json_loads(before), now))
    plan.preview = f"{verb}: {_describe(plan.steps, entry.kind)}"
    return plan


def _describe(steps: list[tuple[str, dict[str, Any] | None, Any]], kind: str) -> str:
    restored = created = 0
    back: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    olds: dict[str, set[Any]] = {}
    same = 0
    for _, before, now in steps:
        if before is None:
            created += 1
            continue
        if now is None:
            restored += 1
            continue
        row = before
        if row["status"] != now["status"]:
            back[row["status"]] += 1
            continue
        same += 1
        for k in TASK_FIELDS:
            if k in ("version", "last_modified", "args_hash"):
                continue
            old = row[k]
            new = now[k]
            if k in TIME_FIELDS:
                new = _stamp(new)
            if old != new or type(old) is not type(new):
                fields[k] += 1
                if k not in JSON_FIELDS and len(olds.setdefault(k, set())) < 2:
                    olds[k].add(old)
    parts = []
    def plural(n: int) -> str:
        return f"{n:,} task{'s' * (n != 1)}"

    if restored:
        parts.append(f"restore {restored:,} deleted task{'s' * (restored != 1)}")
    if created:
        how = {"import": "imported ", "undo": "", "submit": "submitted "}.get(kind, "created ")
        again = " again" if kind == "undo" else ""
        parts.append(f"delete {created:,} {how}task{'s' * (created != 1)}{again}")
    for status, n in back.most_common():
        parts.append(f"{plural(n)} back to {status}")
    if same and len(fields) == 1 and len(olds.get(next(iter(fields)), ())) == 1:
        name = next(iter(fields))  # one plain field, one old value: "back to priority 10"
        parts.append(f"{plural(same)} back to {name} {json_dumps(next(iter(olds[name])))}")
    elif same:
        what = ", ".join(k for k, _ in fields.most_common()) or "no field"
        parts.append(f"restore {what} of {plural(same)}")
    return "; ".join(parts) or "nothing"


async def preview(store: TaskStore, entry_id: int | None = None, *,
                  redo: bool = False) -> UndoPlan:
    """What undo (or redo) would do, with its conflicts; reads only."""
    async with store.read() as conn:
        entry = await _target(conn, store, entry_id, redo)
        return await _plan(conn, store, entry)


async def undo(store: TaskStore, entry_id: int | None = None, *, redo: bool = False,
               expect: int | None = None) -> UndoPlan:
    """Undo an entry (default: the newest change of the queue not undone yet; ``redo``: the
    newest undo not undone yet) in one transaction. ``expect``: the entry id a preview showed;
    another one now (someone undid it meanwhile, or made a newer change) refuses.

    Refuses (ConflictError, nothing written) when any task changed since the entry."""
    async with store.write() as conn:
        target_id = entry_id if entry_id is not None else expect
        entry = await _target(conn, store, target_id, redo)
        if entry_id is None and expect is not None:
            newest = await _target(conn, store, None, redo)
            if newest.id != expect:
                raise ConflictError(f"the journal changed since the preview (entry {newest.id}"
                                    f" is now the newest to {'redo' if redo else 'undo'});"
                                    " nothing undone; run again")
        if entry.undone_by is not None:
            raise ConflictError(f"entry {entry.id} was already undone (by entry"
                                f" {entry.undone_by}); nothing undone")
        if store.dialect == "postgresql":
            await conn.execute(select(journal.c.id).where(journal.c.id == entry.id)
                               .with_for_update())
        plan = await _plan(conn, store, entry)
        if plan.conflicts:
            more = f" (and {len(plan.conflicts) - 1} more)" if len(plan.conflicts) > 1 else ""
            raise ConflictError(f"{plan.verb} refused: {plan.conflicts[0]}{more}; nothing"
                                " written")
        present = [task_id for task_id, _, now in plan.steps if now is not None]
        for i in range(0, len(present), 10_000):
            await conn.execute(delete(tasks).where(
                store.ids_in(tasks.c.task_id, present[i:i + 10_000])))
        rows = [_row_of(before) for _, before, _ in plan.steps if before is not None]
        if rows:
            from sqlalchemy.exc import IntegrityError

            try:
                await store.insert_rows(conn, rows)
            except IntegrityError:  # PostgreSQL: the id was inserted after the check
                raise ConflictError(f"{plan.verb} refused: a task it restores was created"
                                    " again meanwhile; nothing written") from None
        items: list[Item] = []
        for task_id, before, now in plan.steps:
            after = None if before is None else int(before["version"])
            items.append((task_id, None if now is None else image_of_row(now), after))
        kind = "redo" if plan.verb == "redo" else "undo"
        summary = f"{plan.preview} (entry {entry.id})"
        # journaled even when journaling is off: an undo must stay redoable
        plan.new_entry = await record(conn, store, kind, summary, items, undo_of=entry.id,
                                      force=True)
        await conn.execute(update(journal).where(journal.c.id == entry.id)
                           .values(undone_by=plan.new_entry))
    return plan


async def count_entries(store: TaskStore) -> int:
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(journal)
                                       .where(journal.c.queue == store.queue))).scalar_one())


async def prune_now(store: TaskStore) -> int:
    async with store.write() as conn:
        return await prune(conn, store.queue)
