"""Claims: a worker takes the next task, beats, reports, releases; timed-out tasks are swept.

Every function is one transaction on the TaskStore (``store.write()``: BEGIN IMMEDIATE on
SQLite, which serialises claimers; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so exactly one
worker gets each task. Semantics follow spec §1.4-1.5 and §7.3. The worker rows themselves
are :mod:`.workers`; the loop that drives these calls is :mod:`labtasker_tui.worker.runner`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..dot_paths import parse_dot_path
from ..errors import UserError
from ..lifecycle import after_failure
from ..models import Task
from ..schema import tasks, utcnow, workers
from .progress import record_finish
from .rows import row_to_task
from .store_core import TASK_COLUMNS
from .task_store import TaskStore
from .workers import LOST, MAY_FETCH, WorkerInactive, count_worker_failure

TIMEOUT_ERROR = "Either heartbeat or task execution timed out"
# The sweep waits this long past a task_timeout before failing a task: the task's own loop
# kills its job at the limit (measured from before the claim), so the sweep never hands out a
# task whose job may still be alive. A dead loop's task is found by its heartbeat timeout.
TASK_TIMEOUT_SLACK = 3.0
FINAL_REPORTS = ("success", "failed", "cancelled")


# -- required fields ("no more, no less", spec §7.3) ----------------------------------------


@dataclass(frozen=True)
class Required:
    """Parsed required paths: ``exists`` (deepest paths), ``tree`` (shortest prefixes, leaves
    are None) and ``strict`` (False when ``*`` disables the "no more" half)."""

    exists: tuple[tuple[str, ...], ...]
    tree: dict[str, Any]
    strict: bool

    @property
    def empty(self) -> bool:
        return not self.exists and self.strict


def parse_required(fields: Iterable[str]) -> Required:
    """Validate paths; raises UserError on an invalid one (``.a``, ``""``, ``.``)."""
    paths: list[tuple[str, ...]] = []
    strict = True
    for f in fields:
        try:
            path = parse_dot_path(f, allow_star=True)
        except ValueError as exc:
            raise UserError(f"required field: {exc}") from None
        if path == ("*",):
            strict = False
        elif path not in paths:
            paths.append(path)
    # deepest paths: drop any path that is a proper prefix of another
    exists = tuple(p for p in paths
                   if not any(len(q) > len(p) and q[:len(p)] == p for q in paths))
    # shortest prefixes: drop any path that has a proper prefix in the set
    shortest = [p for p in paths if not any(len(q) < len(p) and p[:len(q)] == q for q in paths)]
    tree: dict[str, Any] = {}
    for p in shortest:
        node = tree
        for seg in p[:-1]:
            node = node.setdefault(seg, {})
        node[p[-1]] = None
    return Required(exists, tree, strict)


def args_match_required(args: Mapping[str, Any], fields: Iterable[str] | Required) -> bool:
    """The §7.3 rule in Python (the reference the SQL is tested against)."""
    req = fields if isinstance(fields, Required) else parse_required(fields)
    for path in req.exists:
        node: Any = args
        for seg in path:
            if not isinstance(node, Mapping) or seg not in node:
                return False
            node = node[seg]
    if not req.strict or not req.tree:
        return True

    def same_keys(value: Any, tree: dict[str, Any]) -> bool:
        if not isinstance(value, Mapping) or set(value) != set(tree):
            return False
        return all(sub is None or same_keys(value[k], sub) for k, sub in tree.items())

    return same_keys(args, req.tree)


def _sqlite_path(path: Sequence[str]) -> str:
    # segments are validated names/integers, so they are safe inside a SQL literal
    return "'$" + "".join(f'."{s}"' for s in path) + "'"


def _pg_path(path: Sequence[str]) -> str:
    return "tasks.args" + "".join(f" -> '{s}'" for s in path)


def required_condition(fields: Iterable[str] | Required, dialect: str
                       ) -> ColumnElement[bool] | None:
    """SQL for the required-fields rule, or None when there is no requirement."""
    req = fields if isinstance(fields, Required) else parse_required(fields)
    conds: list[str] = []
    for path in req.exists:
        if dialect == "postgresql":
            conds.append(f"({_pg_path(path)}) IS NOT NULL")
        else:
            conds.append(f"json_type(tasks.args, {_sqlite_path(path)}) IS NOT NULL")
    if req.strict and req.tree:
        def walk(prefix: tuple[str, ...], tree: dict[str, Any]) -> None:
            keys = sorted(tree)
            if dialect == "postgresql":
                arr = "ARRAY[" + ",".join(f"'{k}'" for k in keys) + "]::text[]"
                conds.append(f"(({_pg_path(prefix)}) - {arr}) = '{{}}'::jsonb")
            else:
                # all keys exist (checked above), so an equal count means no extra key
                conds.append(f"json_type(tasks.args, {_sqlite_path(prefix)}) = 'object'")
                conds.append(f"(SELECT count(*) FROM json_each(tasks.args, "
                             f"{_sqlite_path(prefix)})) = {len(keys)}")
            for k in keys:
                if tree[k] is not None:
                    walk((*prefix, k), tree[k])

        walk((), req.tree)
    if not conds:
        return None
    return and_(*(text(c) for c in conds))


# -- workers ---------------------------------------------------------------------------------

# -- timeouts --------------------------------------------------------------------------------


def _timed_out(m: Mapping[Any, Any], now: datetime) -> bool:
    hb, hb_to = m["last_heartbeat"], m["heartbeat_timeout"]
    if hb is not None and hb_to is not None and now - hb > timedelta(seconds=hb_to):
        return True
    st, t_to = m["start_time"], m["task_timeout"]
    return st is not None and t_to is not None and \
        now - st > timedelta(seconds=t_to + TASK_TIMEOUT_SLACK)


async def _sweep(store: TaskStore, conn: AsyncConnection, now: datetime) -> list[str]:
    cols = (tasks.c.task_id, tasks.c.last_heartbeat, tasks.c.heartbeat_timeout,
            tasks.c.start_time, tasks.c.task_timeout)
    running = (await conn.execute(select(*cols).where(
        tasks.c.queue == store.queue, tasks.c.status == "running"))).all()
    candidates = [r.task_id for r in running if _timed_out(r._mapping, now)]
    if not candidates:
        return []
    stmt = select(*TASK_COLUMNS).where(tasks.c.task_id.in_(candidates),
                                       tasks.c.status == "running").order_by(tasks.c.task_id)
    if store.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    swept = []
    for row in (await conn.execute(stmt)).all():
        if not _timed_out(row._mapping, now):  # re-checked under the lock
            continue
        m = row._mapping
        status, retries = after_failure(m["retries"], m["max_retries"])
        summary = {**(m["summary"] or {}), "labtasker_error": TIMEOUT_ERROR}
        await conn.execute(update(tasks).where(tasks.c.task_id == m["task_id"]).values(
            status=status, retries=retries, summary=summary, worker_id=None,
            last_modified=now, version=tasks.c.version + 1))
        await record_finish(conn, store.dialect, store.queue, m["task_id"], m["start_time"],
                            now, status)
        await count_worker_failure(conn, m["worker_id"], now, silent=True)
        swept.append(m["task_id"])
    return swept


async def sweep_timeouts(store: TaskStore) -> list[str]:
    """Fail (or requeue, per retries) running tasks past their heartbeat or task timeout."""
    async with store.write() as conn:
        return await _sweep(store, conn, utcnow())


# -- claim / heartbeat / report ---------------------------------------------------------------


async def _worth_a_write(store: TaskStore, worker_id: str, conds: list[Any]) -> bool:
    """A read-only look first: an idle poll (nothing to claim, nothing timed out) then takes
    no write lock and does not bump the change marker that live views watch."""
    now = utcnow()
    async with store.read() as conn:
        wrow = (await conn.execute(select(workers.c.status).where(
            workers.c.worker_id == worker_id))).first()
        if wrow is None or wrow.status not in MAY_FETCH:
            raise WorkerInactive(worker_id, wrow.status if wrow else None)
        if wrow.status == LOST:
            return True  # alive after all: the claim marks it active again
        if (await conn.execute(select(tasks.c.task_id).where(and_(*conds)).limit(1))).first():
            return True
        cols = (tasks.c.last_heartbeat, tasks.c.heartbeat_timeout, tasks.c.start_time,
                tasks.c.task_timeout)
        running = await conn.execute(select(*cols).where(
            tasks.c.queue == store.queue, tasks.c.status == "running"))
        return any(_timed_out(r._mapping, now) for r in running)

async def claim_next(
    store: TaskStore,
    worker_id: str,
    where: ColumnElement[bool] | None = None,
    required_fields: Iterable[str] | Required = (),
    heartbeat_timeout: float | None = None,
    task_timeout: int | None = None,
    cmd: str | list[str] | None = None,
) -> Task | None:
    """Atomically move the first matching pending task (fetch order) to running for this worker.

    Sweeps timed-out tasks first. Raises WorkerInactive if the worker may not fetch. The task's
    submitted ``cmd`` is never changed (``cmd`` is accepted for compatibility and ignored; the
    loop writes the command it ran into run.log)."""
    del cmd
    req = required_fields if isinstance(required_fields, Required) \
        else parse_required(required_fields)
    cond = required_condition(req, store.dialect)
    conds = [tasks.c.queue == store.queue, tasks.c.status == "pending"]
    if where is not None:
        conds.append(where)
    if cond is not None:
        conds.append(cond)
    if not await _worth_a_write(store, worker_id, conds):
        return None
    now = utcnow()
    async with store.write() as conn:
        await _sweep(store, conn, now)
        wrow = (await conn.execute(select(workers.c.status).where(
            workers.c.worker_id == worker_id))).first()
        if wrow is None or wrow.status not in MAY_FETCH:
            raise WorkerInactive(worker_id, wrow.status if wrow else None)
        await conn.execute(update(workers).where(workers.c.worker_id == worker_id)
                           .values(last_seen=now, status="active"))
        # fetch order (spec §7.3) without the task_id tie-break, so that the whole ORDER BY
        # is served by ix_tasks_fetch_order even before PostgreSQL has statistics
        stmt = (select(tasks.c.task_id).where(and_(*conds))
                .order_by(*store.order_clause()[:3]).limit(1))
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        task_id = (await conn.execute(stmt)).scalar()
        if task_id is None:
            return None
        values: dict[str, Any] = dict(
            status="running", start_time=now, last_heartbeat=now, worker_id=worker_id,
            summary={}, last_modified=now, version=tasks.c.version + 1)
        if heartbeat_timeout is not None:
            values["heartbeat_timeout"] = heartbeat_timeout
        if task_timeout is not None:
            values["task_timeout"] = task_timeout
        row = (await conn.execute(
            update(tasks).where(tasks.c.task_id == task_id, tasks.c.status == "pending")
            .values(**values).returning(*TASK_COLUMNS))).first()
        return row_to_task(row) if row is not None else None


async def heartbeat(store: TaskStore, task_id: str, worker_id: str) -> bool:
    """Refresh last_heartbeat; False when the task is no longer running for this worker."""
    now = utcnow()
    async with store.write() as conn:
        res = await conn.execute(update(tasks).where(
            tasks.c.task_id == task_id, tasks.c.worker_id == worker_id,
            tasks.c.status == "running").values(last_heartbeat=now))
        await conn.execute(update(workers).where(workers.c.worker_id == worker_id)
                           .values(last_seen=now))
        return res.rowcount == 1


def merge_summary(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
                  ) -> dict[str, Any]:
    """Top-level merge (spec §8): None keeps, ``{}`` clears, keys replace whole subtrees."""
    if new is None:
        return dict(old or {})
    if not new:
        return {}
    return {**(old or {}), **new}


def check_summary(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The job API's summary: the common validator, except that NaN/±inf (an ordinary loss)
    are recorded as the strings "NaN"/"Infinity"/"-Infinity" instead of failing the job."""
    if summary is None:
        return None
    from ..documents import validate_document
    from ..models import validate_fields, validation_message

    try:
        if not isinstance(summary, Mapping):
            raise UserError(f"summary: expected a mapping, got {type(summary).__name__}")
        doc = validate_document(dict(summary), "summary", nonfinite_as_text=True)
        checked: dict[str, Any] = validate_fields({"summary": doc})["summary"]
        return checked
    except ValueError as exc:
        raise UserError(validation_message(exc)) from None


async def report(
    store: TaskStore,
    task_id: str,
    worker_id: str | None,
    status: str,
    summary: Mapping[str, Any] | None = None,
) -> Task | None:
    """Finish a task: success, failed (retry or fail per ``after_failure``) or cancelled.

    With a ``worker_id``, the report applies only if the task is still running for that worker
    (a stale report after a timeout returns None and changes nothing). Without one, the spec's
    rules apply: success needs running; failed from failed is a no-op; cancelled from any."""
    if status not in FINAL_REPORTS:
        raise UserError(f"report status must be one of {', '.join(FINAL_REPORTS)}")
    summary = check_summary(summary)
    now = utcnow()
    async with store.write() as conn:
        stmt = select(*TASK_COLUMNS).where(tasks.c.task_id == task_id,
                                           tasks.c.queue == store.queue)
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        if row is None:
            raise UserError(f"task not found: {task_id}")
        task = row_to_task(row)
        if worker_id is not None and (task.status != "running" or task.worker_id != worker_id):
            return None
        values: dict[str, Any] = {"summary": merge_summary(task.summary, summary),
                                  "worker_id": None}
        if status == "success":
            if task.status != "running":
                raise UserError(f"Cannot complete task in {task.status} state")
            values["status"] = "success"
        elif status == "failed":
            if task.status == "failed":
                return task
            if task.status != "running":
                raise UserError(f"Cannot fail task in {task.status} state")
            values["status"], values["retries"] = after_failure(task.retries, task.max_retries)
            await count_worker_failure(conn, task.worker_id, now)
        else:
            values["status"] = "cancelled"
        out = (await conn.execute(
            update(tasks).where(tasks.c.task_id == task_id)
            .values(**values, last_modified=now, version=tasks.c.version + 1)
            .returning(*TASK_COLUMNS))).one()  # the row read above, locked
        if task.status == "running":  # a run ended (its duration and finish time: the ETA)
            await record_finish(conn, store.dialect, store.queue, task_id, task.start_time,
                                now, out.status)
        return row_to_task(out)


async def release(store: TaskStore, task_id: str, worker_id: str) -> bool:
    """"Ignore" a run (Ctrl-C): back to pending with retries=0, as if it never ran (§7.4)."""
    now = utcnow()
    async with store.write() as conn:
        res = await conn.execute(update(tasks).where(
            tasks.c.task_id == task_id, tasks.c.worker_id == worker_id,
            tasks.c.status == "running").values(
            status="pending", retries=0, worker_id=None, last_modified=now,
            version=tasks.c.version + 1))
        return res.rowcount == 1


async def update_summary(
    store: TaskStore, task_id: str, summary: Mapping[str, Any], worker_id: str | None = None
) -> bool:
    """Merge metrics into a task's summary (while it runs, when ``worker_id`` is given)."""
    checked = check_summary(summary)
    now = utcnow()
    async with store.write() as conn:
        conds = [tasks.c.task_id == task_id, tasks.c.queue == store.queue]
        if worker_id is not None:
            conds += [tasks.c.worker_id == worker_id, tasks.c.status == "running"]
        stmt = select(tasks.c.summary).where(*conds)
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        if row is None:
            return False
        await conn.execute(update(tasks).where(tasks.c.task_id == task_id).values(
            summary=merge_summary(row.summary, checked), last_modified=now,
            version=tasks.c.version + 1))
        return True


# -- why nothing matches (loop) ---------------------------------------------------------------

EXPLAIN_SAMPLE = 10_000   # tasks whose args are read to name the keys that differ
_TOP_KEYS = 6


def _key_diff(args: Any, req: Required) -> tuple[list[str], list[str]]:
    """(missing required paths, extra keys) of one task's args; an extra key holding an
    object is shown as ``key.*``."""
    missing = []
    for path in req.exists:
        node: Any = args
        for seg in path:
            if not isinstance(node, Mapping) or seg not in node:
                missing.append(".".join(path))
                break
            node = node[seg]
    extra: list[str] = []
    if req.strict and req.tree:
        def walk(value: Any, tree: dict[str, Any], prefix: str) -> None:
            if not isinstance(value, Mapping):
                return
            for key, sub in value.items():
                name = f"{prefix}{key}"
                if key not in tree:
                    extra.append(f"{name}.*" if isinstance(sub, Mapping) and sub else name)
                elif tree[key] is not None:
                    walk(sub, tree[key], f"{name}.")

        walk(args, req.tree, "")
    return missing, extra


def _top(counter: dict[str, int]) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{k} ({n:,})" for k, n in items[:_TOP_KEYS])
    more = len(items) - _TOP_KEYS
    return shown + (f" and {more} more" if more > 0 else "")


async def explain_unmatched(store: TaskStore, where: ColumnElement[bool] | None,
                            required: Iterable[str] | Required) -> str | None:
    """Why pending tasks exist but a loop with this filter and these required fields can
    claim none of them (a few lines), or None when there is nothing to explain (no pending
    task, or some task matches)."""
    req = required if isinstance(required, Required) else parse_required(required)
    base = [tasks.c.queue == store.queue, tasks.c.status == "pending"]
    cond = required_condition(req, store.dialect)
    filtered = [*base, where] if where is not None else base

    async with store.read() as conn:
        async def count(conds: list[Any]) -> int:
            return int((await conn.execute(
                select(func.count()).select_from(tasks).where(and_(*conds)))).scalar() or 0)

        pending = await count(base)
        if pending == 0:
            return None
        selected = await count(filtered) if where is not None else pending
        if selected and (cond is None or await count([*filtered, cond])):
            return None
        if selected == 0:
            return (f"nothing to run: the filter (-f) matches none of the {pending:,} pending"
                    " task(s); check it with `labtasker-tui count -f ...`")
        rows = (await conn.execute(select(tasks.c.args).where(and_(*filtered))
                                   .limit(EXPLAIN_SAMPLE))).all()
    names = [".".join(p) for p in req.exists]
    n_missing = n_extra = 0
    missing: dict[str, int] = {}
    extra: dict[str, int] = {}
    for (args,) in rows:
        miss, more = _key_diff(args, req)
        n_missing += bool(miss)
        n_extra += bool(more)
        for k in miss:
            missing[k] = missing.get(k, 0) + 1
        for k in dict.fromkeys(more):
            extra[k] = extra.get(k, 0) + 1
    where_txt = " matching -f" if where is not None else ""
    of = f" of the first {len(rows):,}" if len(rows) < selected else ""  # a sample
    fields = ", ".join(names) or "(none)"
    rule = "exactly the args keys" if req.strict and req.tree else "the args keys"
    exact = " (no more, no less)" if req.strict and req.tree else ""
    tasks_txt = "the pending task" if selected == 1 else f"the {selected:,} pending tasks"
    lines = [f"nothing to run: none of {tasks_txt}{where_txt} has {rule} the command needs:"
             f" {fields}{exact}"]
    if n_extra:
        lines.append(f"  {n_extra:,}{of} have keys beyond {fields}: {_top(extra)}")
    if n_missing:
        lines.append(f"  {n_missing:,}{of} lack: {_top(missing)}")
    hints = []
    if n_extra:
        plain = [k for k in sorted(extra, key=lambda k: -extra[k]) if not k.endswith(".*")][:2]
        eg = " ".join(f"%({k})" for k in plain)
        hints.append(f"use the extra keys in the command{f' ({eg})' if eg else ''}")
        hints.append("accept extra keys with --required-fields '*'")
    hints.append("select other tasks with -f")
    lines.append("  To run them: " + ", or ".join(hints) + ".")
    return "\n".join(lines)
