"""The writes of :class:`~.task_store.TaskStore`: submit, import, update and delete, each one
write transaction with its journal entry. The selection is read first (never under the write
lock); the write then checks that the tasks it read have not changed since."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..canonical import args_hash
from ..errors import ConflictError, UserError
from ..lifecycle import check_transition
from ..schema import tasks, utcnow
from . import dedup, journal
from .dedup import Dedup, DedupPlan, SubmitOutcome
from .rows import (
    TASK_FIELDS,
    import_row,
    new_task_row,
    sqlite_params,
    validate_fields,
    validation_message,
)
from .selection import (
    Selection,
    SelectionChanged,
    TaskChange,
    check_found,
    check_not_running,
    check_shown,
)
from .store_core import TASK_COLUMNS
from .task_reads import TaskReads

if TYPE_CHECKING:
    from datetime import datetime

    from ..models import Task

ID_CHUNK = 500
INSERT_CHUNK = 5000
HASH_CHUNK = 2000


class TaskWrites(TaskReads):
    """Writes of tasks, all or nothing, each in one transaction."""

    async def submit(self, specs: Sequence[dict[str, Any]]) -> list[str]:
        """Insert new pending tasks in one transaction; all or nothing (no duplicate check)."""
        return (await self.submit_batch(specs, dedup="off")).ids

    async def submit_batch(self, specs: Sequence[dict[str, Any]], *, dedup: Dedup = "allow",
                           requeue_failed: bool = False) -> SubmitOutcome:
        """Insert new pending tasks in one transaction, deduplicated by configuration
        (:mod:`.dedup`: ``allow`` writes all and counts the duplicates, ``skip`` writes only
        the new ones, ``error`` raises DuplicateError and writes nothing, ``off`` does not
        look). ``requeue_failed``: failed copies of submitted configurations are reset to
        pending in the same transaction (journaled: undo puts them back)."""
        now = utcnow()
        rows = []
        for i, spec in enumerate(specs):
            try:
                rows.append(new_task_row(spec, self.queue, now))
            except UserError as exc:
                where = f"task {i + 1}: " if len(specs) > 1 else ""
                raise UserError(f"{where}{exc}") from None
        async with self.write() as conn:
            todo = await self.plan_dedup(conn, rows, dedup, requeue_failed)
            await self.insert_rows(conn, todo.insert)
            items = await self.requeue_copies(conn, todo.requeue, now)
            if items and journal.enabled():
                n = len(items)
                await journal.record(conn, self, "reset", f"requeue {n:,} failed"
                                     f" task{'s' * (n != 1)} (submit)", items)
        return todo.outcome

    async def import_records(
        self, records: Iterable[dict[str, Any]], *, replace: bool = False,
        journaled: bool = True,
    ) -> tuple[int, int]:
        """Insert full records, keeping ids, status, timestamps and summary.

        Returns (inserted, replaced). An existing id is an error unless ``replace``.
        ``journaled``: one journal entry (undo deletes the new tasks and restores the
        replaced ones)."""
        out = await self.import_batch(records, replace=replace, journaled=journaled)
        return len(out.ids) - out.replaced, out.replaced

    async def import_batch(
        self, records: Iterable[dict[str, Any]], *, replace: bool = False,
        journaled: bool = True, dedup: Dedup = "off", requeue_failed: bool = False,
    ) -> SubmitOutcome:
        """:meth:`import_records` with deduplication (as :meth:`submit_batch`; each record
        is compared within its own queue). Tasks that ``replace`` overwrites are not counted
        as present. The outcome's ``ids`` are the tasks written, ``replaced`` how many of
        them overwrote an existing id."""
        now = utcnow()
        rows = []
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise UserError(f"record {i + 1}: expected a JSON object")
            try:
                rows.append(import_row(rec, self.queue, now))
            except UserError as exc:
                raise UserError(f"record {i + 1}: {exc}") from None
        ids = [r["task_id"] for r in rows]
        seen: set[str] = set()
        for x in ids:
            if x in seen:
                raise UserError(f"task id {x} appears twice in the input")
            seen.add(x)
        journaled = journaled and journal.enabled()
        async with self.write() as conn:
            found: dict[str, Any] = {}
            for i in range(0, len(ids), ID_CHUNK):
                cols = TASK_COLUMNS if journaled else [tasks.c.task_id]
                found.update((r._mapping["task_id"], r._mapping) for r in await conn.execute(
                    select(*cols).where(tasks.c.task_id.in_(ids[i:i + ID_CHUNK]))))
            todo = await self.plan_dedup(conn, rows, dedup, requeue_failed,
                                     frozenset(found) if replace else frozenset())
            existing = [r["task_id"] for r in todo.insert if r["task_id"] in found]
            if existing and not replace:
                raise UserError(
                    f"task {existing[0]} already exists ({len(existing)} in this batch);"
                    " use --replace to overwrite")
            for i in range(0, len(existing), ID_CHUNK):
                await conn.execute(delete(tasks).where(
                    tasks.c.task_id.in_(existing[i:i + ID_CHUNK])))
            await self.insert_rows(conn, todo.insert)
            requeued = await self.requeue_copies(conn, todo.requeue, now)
            todo.outcome.replaced = replaced = len(existing)
            if journaled:
                n = len(todo.insert)
                extra = f", {replaced:,} replaced" if replaced else ""
                if requeued:
                    extra += f", {len(requeued):,} failed requeued"
                image = journal.image_of_row
                await journal.record(
                    conn, self, "import", f"import {n:,} task{'s' * (n != 1)}{extra}",
                    [(r["task_id"], image(found[r["task_id"]]) if r["task_id"] in found
                      else None, r["version"]) for r in todo.insert] + requeued)
        return todo.outcome

    async def plan_dedup(self, conn: AsyncConnection, rows: list[dict[str, Any]], policy: Dedup,
                     requeue_failed: bool, excluded: frozenset[str] = frozenset()
                     ) -> DedupPlan:
        """Inside the write: the candidates of ``rows`` (tasks of their queues with their
        args hashes), read under the write lock so that two concurrent submits of the same
        configuration cannot both insert it, and what the policy writes."""
        if policy == "off":
            return dedup.plan(rows, [], "off", False)
        dedup.check_policy(policy)
        by_queue: dict[str, set[int]] = {}
        for r in rows:
            by_queue.setdefault(r["queue"], set()).add(r["args_hash"])
        candidates: list[Any] = []
        cols = [tasks.c[c] for c in dedup.CANDIDATE_COLUMNS]
        for queue in sorted(by_queue):
            if self.dialect == "postgresql":  # SQLite: BEGIN IMMEDIATE already serialises
                await conn.execute(select(func.pg_advisory_xact_lock(
                    func.hashtextextended(literal(f"labtasker-tui dedup {queue}"), 0))))
            hashes = sorted(by_queue[queue])
            for i in range(0, len(hashes), HASH_CHUNK):
                # the queue as an expression no index serves: SQLite (without statistics)
                # would otherwise walk the whole queue's index instead of the hash index
                candidates += [r._mapping for r in await conn.execute(select(*cols).where(
                    tasks.c.queue.concat("") == queue,
                    tasks.c.args_hash.in_(hashes[i:i + HASH_CHUNK])))]
        return dedup.plan(rows, candidates, policy, requeue_failed, excluded_ids=excluded)

    async def requeue_copies(self, conn: AsyncConnection, copies: list[Any], now: datetime
                       ) -> list[journal.Item]:
        """Reset failed ``copies`` (candidate rows, read under this write lock) to pending,
        attempts reset; returns their journal items (before-image, version after)."""
        if not copies:
            return []
        ids = [c["task_id"] for c in copies]
        images: dict[str, str] = {}
        for i in range(0, len(ids), ID_CHUNK):
            images.update((r._mapping["task_id"], journal.image_of_row(r._mapping))
                          for r in await conn.execute(select(*TASK_COLUMNS).where(
                              tasks.c.task_id.in_(ids[i:i + ID_CHUNK]))))
        stmt = (update(tasks).where(tasks.c.task_id == bindparam("b_id"),
                                    tasks.c.version == bindparam("b_version"))
                .values(status="pending", retries=0, worker_id=None, last_modified=now,
                        version=tasks.c.version + 1))
        await conn.execute(stmt, [{"b_id": c["task_id"], "b_version": c["version"]}
                                  for c in copies])
        return [(c["task_id"], images[c["task_id"]], int(c["version"]) + 1) for c in copies]

    async def insert_rows(self, conn: AsyncConnection,
                          rows: list[dict[str, Any]]) -> None:
        """Bulk insert. On SQLite, values are serialised here and sent through the driver's
        executemany: SQLAlchemy's per-value bind processing costs half the import time."""
        if self.dialect != "sqlite":
            for i in range(0, len(rows), INSERT_CHUNK):
                await conn.execute(insert(tasks), rows[i:i + INSERT_CHUNK])
            return
        if len(rows) > INSERT_CHUNK:  # a bulk load touches 4 B-trees: a larger page cache
            await conn.exec_driver_sql("PRAGMA cache_size=-65536")
        sql = (f"INSERT INTO tasks ({', '.join(TASK_FIELDS)}) "
               f"VALUES ({', '.join('?' * len(TASK_FIELDS))})")
        params = sqlite_params

        # pipeline: serialise the next chunk while SQLite (in aiosqlite's thread, GIL released)
        # writes the previous one
        pending: asyncio.Task[Any] | None = None
        for i in range(0, len(rows), INSERT_CHUNK):
            batch = params(rows[i:i + INSERT_CHUNK])
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(conn.exec_driver_sql(sql, batch))
            await asyncio.sleep(0)
        if pending is not None:
            await pending

    async def update(
        self,
        sel: Selection,
        compute: Callable[[Task], dict[str, Any]],
        *,
        reset_pending: bool = False,
        dry_run: bool = False,
        limit: int | None = None,
        expected_versions: dict[str, int] | None = None,
    ) -> list[TaskChange]:
        """Apply ``compute(task) -> changed fields`` to every selected task, all or nothing.

        The selection (filter included) is evaluated in a read transaction, so a slow filter
        never holds the write lock; the changes are then written by id in one short write
        transaction that first checks each task still has the version that was read (else
        ConflictError, nothing written). Values are validated and status changes obey the
        state machine. ``expected_versions`` (the editor): a task whose version moved since it
        was opened raises ConflictError. To apply exactly what a prompt showed, make the plan
        with ``dry_run=True`` and write it with :meth:`apply_update`."""
        if sel.empty:
            raise UserError("no tasks selected: give --id, --name, --status, -f or ids on stdin")
        current = await self.select_tasks(sel, limit=limit)
        if sel.ids is not None:
            check_found(sel.ids, {t.task_id for t in current}, "")
        plan: list[TaskChange] = []
        for task in current:
            if expected_versions is not None:
                want = expected_versions.get(task.task_id)
                if want is not None and want != task.version:
                    raise ConflictError(
                        f"task {task.task_id} was changed by someone else since you opened"
                        " it; reload to see the new version")
            plan.append(TaskChange(task, self._prepare(task, compute(task), reset_pending)))
        if dry_run:
            return plan
        await self._update(plan, check_all=False,
                           kind="edit" if expected_versions is not None else None)
        return plan

    def requeue_selection(self, sel: Selection, *, cancelled: bool = False) -> Selection:
        """``sel`` narrowed to what ``requeue`` puts back to pending: its failed tasks (and
        cancelled ones). Plan with ``update(..., reset_pending=True, dry_run=True)`` and write
        with :meth:`apply_update`, as ``update`` does (journaled as a reset)."""
        cond = tasks.c.status.in_(["failed", "cancelled"] if cancelled else ["failed"])
        return Selection(ids=sel.ids, name=sel.name, status=sel.status,
                         where=cond if sel.where is None else and_(sel.where, cond))

    async def apply_update(self, sel: Selection, plan: list[TaskChange]
                           ) -> list[TaskChange]:
        """Write a plan made by ``update(sel, ..., dry_run=True)`` exactly as it was shown.

        The selection is evaluated again (a read) and must still be the plan's tasks at the
        plan's versions; the write checks every version again under the write lock. Else
        SelectionChanged, and nothing is written."""
        state = await self.selection_state(sel)
        check_shown({k: v for k, (v, _) in state.items()},
                     {c.before.task_id: c.before.version for c in plan}, "updated")
        await self._update(plan, check_all=True)
        return plan


    async def _update(self, plan: list[TaskChange], *, check_all: bool,
                      kind: str | None = None) -> None:
        """Write ``plan`` by id in one transaction, after checking the versions it was made
        from (every task when ``check_all``, else the ones that change), with its journal
        entry (the before-image of every task that changes; ``kind``: else from the fields)."""
        todo = [c for c in plan if c.changed]
        check = plan if check_all else todo
        if not check:
            return
        now = utcnow()
        groups: dict[tuple[str, ...], list[TaskChange]] = {}
        for change in todo:
            groups.setdefault(tuple(sorted(change.changes)), []).append(change)
        async with self.write() as conn:
            await self._verify(conn, {c.before.task_id: c.before.version for c in check},
                               "updated", exact=check_all)
            for keys, changes in groups.items():
                cols = (*keys, "args_hash") if "args" in keys else keys  # the hash follows args
                stmt = (update(tasks)
                        .where(tasks.c.task_id == bindparam("b_id"),
                               tasks.c.version == bindparam("b_version"))
                        .values({**{k: bindparam(f"v_{k}", type_=tasks.c[k].type) for k in cols},
                                 "last_modified": now, "version": tasks.c.version + 1}))
                params = [{"b_id": c.before.task_id, "b_version": c.before.version,
                           **{f"v_{k}": c.changes[k] for k in keys}} for c in changes]
                if "args" in keys:
                    for p in params:
                        p["v_args_hash"] = args_hash(p["v_args"])
                for i in range(0, len(params), INSERT_CHUNK):
                    await conn.execute(stmt, params[i:i + INSERT_CHUNK])
            if todo and journal.enabled():
                auto_kind, summary = journal.describe_update((c.changes for c in todo),
                                                             len(todo))
                if kind == "edit":
                    summary = f"edit {len(todo):,} task{'s' * (len(todo) != 1)}"
                entry = await journal.begin_entry(conn, self, kind or auto_kind, summary,
                                                  len(todo))
                image = journal.image_of_task
                for i in range(0, len(todo), INSERT_CHUNK):
                    await journal.add_items(conn, self, entry, [
                        (c.before.task_id, image(c.before), c.before.version + 1)
                        for c in todo[i:i + INSERT_CHUNK]])

    async def _verify(self, conn: AsyncConnection, expected: dict[str, int], verb: str, *,
                      exact: bool, force: bool = True) -> None:
        """Inside a write: every task in ``expected`` still has that version (locked on
        PostgreSQL until the commit); else SelectionChanged / ConflictError, nothing written."""
        stmt = select(tasks.c.task_id, tasks.c.version, tasks.c.status).where(
            self.scope(Selection(ids=list(expected))))
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        rows = (await conn.execute(stmt)).all()
        now = {r[0]: r[1] for r in rows}
        if now != expected:
            moved = sum(1 for k, v in expected.items() if now.get(k) != v)
            if exact:
                raise SelectionChanged(
                    f"selection changed: {moved} of the {len(expected)} tasks shown changed or"
                    f" were deleted since; nothing {verb}; run again")
            task_id = next(k for k, v in expected.items() if now.get(k) != v)
            raise ConflictError(f"task {task_id} changed while it was being {verb}"
                                f" ({moved} in all); nothing was saved")
        if not force:
            check_not_running([r[2] for r in rows], verb)

    def _prepare(self, task: Task, changes: dict[str, Any], reset_pending: bool) -> dict[str, Any]:
        try:
            values = validate_fields(changes) if changes else {}
        except ValueError as exc:
            raise UserError(f"task {task.task_id}: {validation_message(exc)}") from None
        if reset_pending:
            values.update(status="pending", retries=0, worker_id=None)
        elif "status" in values and values["status"] != task.status:
            try:
                check_transition(task.status, values["status"])
            except ValueError as exc:
                raise UserError(f"task {task.task_id}: {exc}") from None
            if values["status"] == "pending":
                values["worker_id"] = None
        current = task.model_dump()
        return {k: v for k, v in values.items() if current.get(k) != v
                or type(current.get(k)) is not type(v)}

    async def delete(self, sel: Selection, *, dry_run: bool = False, force: bool = False,
                     shown: dict[str, int] | None = None) -> list[str]:
        """Delete the selected tasks in one transaction; returns the deleted ids.

        The selection is evaluated in a read, then the tasks are deleted by id in one short
        write that checks their versions. Running tasks are refused unless ``force``.
        ``shown`` ({id: version}): the selection must still be exactly that."""
        if sel.empty:
            raise UserError("no tasks selected")
        return await self._delete(sel, dry_run, force, shown)

    async def _delete(self, sel: Selection, dry_run: bool, force: bool,
                      shown: dict[str, int] | None) -> list[str]:
        state = await self.selection_state(sel)
        if shown is not None:
            check_shown({k: v for k, (v, _) in state.items()}, shown, "deleted")
        if not force:
            check_not_running([st for _, st in state.values()], "deleted")
        ids = list(state)
        if dry_run or not ids:
            return ids
        async with self.write() as conn:
            await self._verify(conn, {k: v for k, (v, _) in state.items()}, "deleted",
                               exact=shown is not None, force=force)
            if journal.enabled():  # the before-images, read under the write lock
                entry = await journal.begin_entry(
                    conn, self, "delete", f"delete {len(ids):,} task{'s' * (len(ids) != 1)}",
                    len(ids))
                for i in range(0, len(ids), INSERT_CHUNK):
                    part = await conn.execute(select(*TASK_COLUMNS).where(
                        self.scope(Selection(ids=ids[i:i + INSERT_CHUNK]))))
                    await journal.add_items(conn, self, entry, [
                        (r._mapping["task_id"], journal.image_of_row(r._mapping), None)
                        for r in part])
            await conn.execute(delete(tasks).where(self.scope(Selection(ids=ids))))
        return ids

    async def delete_ids(self, ids: Sequence[str], *, dry_run: bool = False,
                         force: bool = False, shown: dict[str, int] | None = None
                         ) -> tuple[list[str], list[str]]:
        """Delete by id, validating them all first: returns (deleted, not_found)."""
        return await self._delete_ids(list(dict.fromkeys(ids)), dry_run, force, shown)

    async def _delete_ids(self, ids: list[str], dry_run: bool, force: bool,
                          shown: dict[str, int] | None
                          ) -> tuple[list[str], list[str]]:
        if not ids:
            return [], []
        found = await self._delete(Selection(ids=ids), dry_run, force, shown)
        have = set(found)
        return [x for x in ids if x in have], [x for x in ids if x not in have]

