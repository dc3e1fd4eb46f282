"""``update`` and ``delete`` on an existing SQLite file through ``sqlite3``: set-based SQL,
without SQLAlchemy, pydantic or asyncio, as the store does them: the selection is read in a
read transaction (a slow filter never holds the write lock), then written in one ``BEGIN
IMMEDIATE`` transaction that first checks every selected task is still at the version read.

What the store does in Python task by task (``TaskWrites.update`` / ``delete``) is done here
by statements over the whole selection: the selection (the filter evaluated once) goes into a
TEMP table of rowids with, per task, which fields change; the journal entry and the
before-images are written by ``INSERT … SELECT``; the tasks by one ``UPDATE`` (version + 1,
last_modified) or ``DELETE``; the change marker is bumped; old journal entries are pruned as
:func:`labtasker_tui.store.journal.prune` does. A new document (``args.x=…``) is computed per
task by a Python function registered on the connection (``lt_doc``): the store's own
validation and JSON text, so that rows and images stay the store's. The before-images are
the store's, byte for byte when the row's JSON text is the store's own (:func:`image_sql`;
tests compare them).

Only the cases whose outcome is certain are handled: :func:`update_spec` accepts an
assignment only when its value is one the store's validation would take unchanged, and a
selection that would raise in the store (an id that is not there, a status change the state
machine forbids, a sub-path under a value that is not an object, running tasks without
force) raises :class:`Fallback` with nothing written. The caller then runs the store, which
reports the error exactly as ever: one behaviour, two speeds.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..documents import INT64_MAX, INT64_MIN
from ..errors import ConflictError, UserError
from ..fields import BY_NAME, FIELDS, JSON_FIELDS, NESTED_FIELDS
from ..lifecycle import STATUSES, TRANSITIONS
from . import journal_rules
from .sqlite_direct import register_functions_for, selection_sql

# Plain classes rather than dataclasses, and rows (uuid, decimal) imported where used: this
# module is on the path of every direct write, where start-up is most of the time.


class Fallback(Exception):
    """The direct path does not cover this case: run the store (nothing was written)."""


# -- what the assignments do -------------------------------------------------------------------

#: A document operation: (sub-path, value); an empty sub-path replaces the whole document.
DocOp = tuple[tuple[str, ...], Any]


class UpdateSpec:
    """Task-independent part of an update: validated plain values and document operations."""

    def __init__(self, reset_pending: bool = False) -> None:
        self.columns: dict[str, Any] = {}
        self.docs: dict[str, list[DocOp]] = {}
        self.reset_pending = reset_pending


_NAME = re.compile(r"[a-zA-Z0-9_-]{1,100}")


def _plain_value(name: str, value: Any) -> Any:
    """``value`` as the store's validation returns it for top-level field ``name``; raises
    :class:`Fallback` for anything that is not certainly valid and unchanged by it (the store
    then reports the error, or converts the value, in its own words)."""
    is_int = type(value) is int
    if name == "priority" and is_int and INT64_MIN <= value <= INT64_MAX:
        return value
    if name in ("max_retries", "retries") and is_int and 0 <= value <= INT64_MAX:
        return value
    if name == "task_timeout" and (value is None or is_int and 0 < value <= INT64_MAX):
        return value
    if name == "heartbeat_timeout":
        if value is None:
            return None
        if type(value) is float and 0 < value < float("inf"):
            return value
        if is_int and 0 < value <= 2**53:
            return float(value)
    if name == "task_name" and (value is None or type(value) is str and _NAME.fullmatch(value)):
        return value
    if name == "status" and type(value) is str and value in STATUSES and value != "running":
        return value
    if name == "cmd" and type(value) is str:
        from ..documents import check_json_value

        try:
            return check_json_value(value, name)
        except UserError:
            pass
    raise Fallback(name)


def update_spec(assignments: Sequence[str], reset_pending: bool) -> UpdateSpec | None:
    """The direct form of ``KEY=VALUE`` assignments, or None (the store handles them: an
    invalid one, a value that needs converting, overlapping sub-paths, ...)."""
    from ..args import (
        READ_ONLY_FIELDS,
        RESET_PENDING_READ_ONLY,
        _normalise_object,  # the store's own step for object values
        parse_assignment,
    )

    spec = UpdateSpec(reset_pending=reset_pending)
    read_only = set(READ_ONLY_FIELDS) | (set(RESET_PENDING_READ_ONLY) if reset_pending else set())
    try:
        for text in assignments:
            path, value = parse_assignment(text)
            top = path[0]
            field_ = BY_NAME.get(top)
            if top in read_only or field_ is None or not field_.updatable or field_.hidden:
                return None
            if top in NESTED_FIELDS:
                ops = spec.docs.setdefault(top, [])
                sub = tuple(path[1:])
                if sub and isinstance(value, dict | list):
                    return None  # dotted keys inside, list equality: the store decides
                if not sub:
                    if not isinstance(value, dict):
                        return None
                    value = _normalise_object(value, top, text)
                for done, _ in ops:  # one path set twice, or under another: the store
                    n = min(len(done), len(sub))
                    if done[:n] == sub[:n]:
                        return None
                ops.append((sub, value))
                continue
            if len(path) > 1 or top in spec.columns:
                return None
            spec.columns[top] = _plain_value(top, value)
    except (UserError, Fallback):
        return None
    if not (spec.columns or spec.docs or reset_pending):
        return None
    return spec


class _DocUpdater:
    """``lt_doc(field, text)``: the new JSON text of a document after the spec's operations
    (as ``args.apply_assignments`` then ``documents.validate_document``), NULL when it does
    not change (the store's comparison); a task that would raise is counted in ``errors``."""

    def __init__(self, docs: dict[str, list[DocOp]]) -> None:
        self.docs = docs
        self.errors = 0

    def __call__(self, name: str, text: Any) -> str | None:
        from ..documents import validate_document
        from .rows import json_dumps, json_loads

        try:
            current = json_loads(text)
            root: Any = None
            for sub, value in self.docs[name]:
                if not sub:
                    root = _copy(value)
                    continue
                if root is None:
                    root = json_loads(text)  # a private copy to change
                if not isinstance(root, dict):
                    raise Fallback(name)
                node = root
                for part in sub[:-1]:
                    nxt = node.get(part)
                    if nxt is None and part not in node:
                        nxt = node[part] = {}
                    elif not isinstance(nxt, dict):
                        raise Fallback(name)
                    node = nxt
                node[sub[-1]] = value
            new = validate_document(root, name)
            if new == current and type(new) is type(current):
                return None
            return json_dumps(new)
        except Exception:  # noqa: BLE001 - the store reports it (see Fallback)
            self.errors += 1
            return None


def _args_hash_of_text(text: str) -> int:
    from ..canonical import args_hash
    from .rows import json_loads

    return args_hash(json_loads(text))


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


# -- the before-image in SQL -------------------------------------------------------------------

def _json_text(value: Any) -> str:
    from .rows import json_dumps

    return json_dumps(value)


def _json_time(value: Any) -> str:
    from .rows import json_dumps

    stamp = datetime.fromisoformat(str(value))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return json_dumps(stamp.astimezone(UTC).isoformat())


def register_image_functions(con: sqlite3.Connection) -> None:
    con.create_function("lt_float", 1, _json_text, deterministic=True)
    con.create_function("lt_time", 1, _json_time, deterministic=True)


def _time_sql(c: str) -> str:
    """The JSON text of ``datetime.isoformat()`` of a stored naive-UTC timestamp."""
    return (f"CASE WHEN {c} IS NULL THEN 'null' WHEN length({c}) = 26 AND substr({c}, 11, 1)"
            f" = ' ' THEN '\"' || substr({c}, 1, 10) || 'T' || CASE WHEN substr({c}, 20) ="
            f" '.000000' THEN substr({c}, 12, 8) ELSE substr({c}, 12) END || '+00:00\"'"
            f" ELSE lt_time({c}) END")


def _float_sql(c: str) -> str:
    """Python's float text: whole numbers below 1e15 in SQL (``60.0``), others in Python."""
    return (f"CASE WHEN {c} IS NULL THEN 'null' WHEN typeof({c}) = 'real' AND {c} > 0 AND"
            f" {c} < 1e15 AND {c} = CAST({c} AS INTEGER) THEN CAST(CAST({c} AS INTEGER) AS"
            f" TEXT) || '.0' ELSE lt_float({c}) END")


def image_sql(alias: str) -> str:
    """SQL of a task row's before-image: ``journal.image_of_row`` (the store's JSON text:
    ``", "``/``": "`` separators, ISO 8601 times) built from the row's columns; the JSON
    columns are their stored text (the store writes them with the same ``json_dumps``).
    One ``printf`` (a quarter faster than concatenating the parts)."""
    keys: list[str] = []
    values: list[str] = []
    for f in FIELDS:
        c = f"{alias}.{f.column}"
        if f.kind == "time":
            value = _time_sql(c)
        elif f.kind in ("document", "json"):
            value = c
        elif f.kind == "number" and float in getattr(f.type, "__args__", (f.type,)):
            value = _float_sql(c)
        elif f.kind == "number":
            value = f"coalesce({c}, 'null')"
        else:
            value = f"json_quote({c})"
        keys.append(f'"{f.column}": %s')
        values.append(value)
    return f"printf('{{{', '.join(keys)}}}', {', '.join(values)})"


# -- shared steps ------------------------------------------------------------------------------

_STAMP = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime text (naive UTC)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime(_STAMP)


class Outcome:
    """What a direct write selected and (when written) changed; ``state``: {task id:
    version} of the selection when asked for (what a prompt shows)."""

    def __init__(self, selected: int, changed: int, state: dict[str, int] | None) -> None:
        self.selected, self.changed, self.state = selected, changed, state


class Scope:
    """The selection: queue, ids, name, status and the filter's SQLite WHERE text."""

    def __init__(self, queue: str, where: str | None = None, params: Sequence[Any] = (),
                 ids: Sequence[str] | None = None, name: str | None = None,
                 status: str | None = None) -> None:
        self.queue, self.where, self.params = queue, where, params
        self.ids, self.name, self.status = ids, name, status

    def sql(self) -> tuple[str, list[Any]]:
        return selection_sql(self.queue, self.where, self.params, self.ids, self.name,
                             self.status, scan=True)


def _select(con: sqlite3.Connection, scope: Scope, columns: str, params: Sequence[Any],
            totals: str) -> Any:
    """TEMP ``lt_sel``: one row per selected task (its rowid, id and version, and
    ``columns``), made in a read transaction: a slow filter never holds the write lock (as
    the store's plan). Returns the row of ``SELECT totals FROM lt_sel``. The table outlives
    the transaction, for :func:`_write`. Rows are in table order (so are the journal's
    items; the store's in fetch order or none: only which conflict an undo names first can
    differ)."""
    cond, args = scope.sql()
    if scope.where is not None:
        register_functions_for(con, scope.where)
    con.execute("BEGIN")
    try:
        con.execute("DROP TABLE IF EXISTS temp.lt_sel")
        con.execute(f"CREATE TEMP TABLE lt_sel AS SELECT tasks.rowid AS rid, tasks.task_id AS"
                    f" task_id, tasks.version AS version{columns} FROM tasks WHERE {cond}",
                    [*params, *args])
        row = con.execute(f"SELECT {totals} FROM lt_sel").fetchone()
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    return row


def _state(con: sqlite3.Connection) -> dict[str, int]:
    return {str(i): int(v) for i, v in con.execute("SELECT task_id, version FROM lt_sel"
                                                    " ORDER BY rowid")}


def _check_shown(con: sqlite3.Connection, shown: dict[str, int] | None, verb: str) -> None:
    if shown is None:
        return
    now = _state(con)
    if now != shown:
        from .selection import check_shown  # loads SQLAlchemy: only on this refusal

        check_shown(now, shown, verb)


def _write(con: sqlite3.Connection, selected: int, verb: str, body: Callable[[], None]
           ) -> None:
    """One BEGIN IMMEDIATE transaction: every task of ``lt_sel`` must still be there at the
    version read (else ConflictError, nothing written: the store's check under the lock),
    then ``body``, the change marker, and the commit."""
    con.execute("PRAGMA cache_size=-65536")  # a large change: its pages stay in memory
    con.execute("BEGIN IMMEDIATE")
    try:
        same = con.execute("SELECT count(*) FROM lt_sel JOIN tasks ON tasks.rowid ="
                           " lt_sel.rid AND tasks.task_id = lt_sel.task_id AND tasks.version ="
                           " lt_sel.version").fetchone()[0]
        if same != selected:
            raise ConflictError(f"selection changed: {selected - same} of the {selected} tasks"
                                f" shown changed or were deleted since; nothing {verb}; run"
                                " again")
        body()
        con.execute("UPDATE change_marker SET seq = seq + 1 WHERE id = 1")
        con.execute("DROP TABLE temp.lt_sel")
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise


def _journal_entry(con: sqlite3.Connection, queue: str, kind: str, summary: str,
                   count: int) -> int:
    """``journal.begin_entry``: the entry row, then the retention (``journal.prune``)."""
    now = datetime.now(UTC)
    cur = con.execute("INSERT INTO journal (created_at, queue, kind, summary, who, actor,"
                      " task_count, undo_of) VALUES (?, ?, ?, ?, ?, 'cli', ?, NULL)",
                      (_stamp(now), queue, kind, summary, journal_rules.who(), count))
    entry_id = int(cur.lastrowid or 0)
    cutoff = con.execute("SELECT id FROM journal WHERE queue = ? ORDER BY id DESC LIMIT 1"
                         " OFFSET ?", (queue, journal_rules.keep_entries())).fetchone()
    old = _stamp(now - timedelta(days=journal_rules.keep_days()))
    if cutoff is None:
        cond, args = "created_at < ?", [old]
    else:
        cond, args = "created_at < ? OR (queue = ? AND id <= ?)", [old, queue, cutoff[0]]
    gone = [r[0] for r in con.execute(f"SELECT id FROM journal WHERE {cond}", args)]
    for i in range(0, len(gone), 500):
        chunk = gone[i:i + 500]
        marks = ", ".join("?" * len(chunk))
        con.execute(f"DELETE FROM journal_tasks WHERE entry_id IN ({marks})", chunk)
        con.execute(f"DELETE FROM journal WHERE id IN ({marks})", chunk)
    return entry_id


def _journal_images(con: sqlite3.Connection, entry_id: int, where: str, deleted: bool) -> None:
    after = "NULL" if deleted else "tasks.version + 1"
    register_image_functions(con)
    con.execute("INSERT INTO journal_tasks (entry_id, task_id, before_image, after_version)"
                f" SELECT ?, tasks.task_id, {image_sql('tasks')}, {after} FROM lt_sel JOIN"
                f" tasks ON tasks.rowid = lt_sel.rid WHERE {where} ORDER BY lt_sel.rowid",
                (entry_id,))


# -- update ------------------------------------------------------------------------------------

def update_tasks(con: sqlite3.Connection, scope: Scope, spec: UpdateSpec, *, write: bool,
                 shown: dict[str, int] | None = None, want_state: bool = False) -> Outcome:
    """Apply ``spec`` to the selection as ``TaskWrites.update`` + ``apply_update`` do (only
    the tasks that change get version + 1, last_modified and a before-image). ``write``
    False: only count (a prompt's question). ``shown``: the selection must still be exactly
    those tasks at those versions (else SelectionChanged, nothing written). Raises
    :class:`Fallback` where the store would raise."""
    cols = dict(spec.columns)
    flags: dict[str, tuple[str, list[Any]]] = {}  # field -> (changes? SQL, its parameters)
    pending_worker = None
    if spec.reset_pending:
        cols.update(status="pending", retries=0)
        pending_worker = "tasks.worker_id IS NOT NULL"
    elif cols.get("status") == "pending":
        pending_worker = "tasks.status IS NOT 'pending' AND tasks.worker_id IS NOT NULL"
    # cmd (a JSON column) as the store's text: equal text is an equal string
    values = {k: _json_text(v) if k in JSON_FIELDS else v for k, v in cols.items()}
    for name, value in values.items():
        flags[name] = (f"tasks.{name} IS NOT ?", [value])
    if pending_worker:
        flags["worker_id"] = (pending_worker, [])
    bad = "0"
    bad_args: list[Any] = []
    if "status" in cols and not spec.reset_pending:
        new = cols["status"]
        allowed = [old for old in STATUSES if new in TRANSITIONS[old]]
        bad = (f"(tasks.status IS NOT ? AND tasks.status NOT IN"
               f" ({', '.join('?' * len(allowed))}))")
        bad_args = [new, *allowed]
    docs = _DocUpdater(spec.docs)
    if spec.docs:
        con.create_function("lt_doc", 2, docs)
    columns = "".join(f", ({sql}) AS d_{name}" for name, (sql, _) in flags.items())
    columns += "".join(f", lt_doc('{name}', tasks.{name}) AS n_{name}" for name in spec.docs)
    columns += f", {bad} AS bad"
    params = [p for _, args in flags.values() for p in args] + bad_args
    changed = " OR ".join([f"d_{name}" for name in flags]
                          + [f"n_{name} IS NOT NULL" for name in spec.docs]) or "0"
    totals = (f"count(*), coalesce(sum({changed}), 0), coalesce(sum(bad), 0)"
              + "".join(f", coalesce(sum(d_{n}), 0)" for n in flags)
              + "".join(f", count(n_{n})" for n in spec.docs))
    row = _select(con, scope, columns, params, totals)
    selected, n_changed, n_bad = int(row[0]), int(row[1]), int(row[2])
    per_field = dict(zip([*flags, *spec.docs], map(int, row[3:]), strict=True))
    # what a prompt showed is checked first: the store applies the plan it showed
    _check_shown(con, shown, "updated")
    if n_bad or docs.errors:
        raise Fallback("the store reports this selection's error")
    if shown is None and scope.ids is not None and selected != len(set(scope.ids)):
        raise Fallback("an id is not selected: the store names it")
    out = Outcome(selected, n_changed, _state(con) if want_state else None)
    if not write or not selected:
        return out

    def body() -> None:
        if not n_changed:
            return  # the store's write transaction still checks and bumps the marker
        if journal_rules.enabled():
            kind, summary = _describe(cols, per_field, n_changed)
            entry = _journal_entry(con, scope.queue, kind, summary, n_changed)
            _journal_images(con, entry, changed, deleted=False)
        sets = [f"{name} = ?" for name in cols]
        sets += [f"{name} = coalesce(lt_sel.n_{name}, tasks.{name})" for name in spec.docs]
        if "args" in spec.docs:  # the dedup key follows args (schema v4)
            con.create_function("lt_args_hash", 1, _args_hash_of_text, deterministic=True)
            sets.append("args_hash = CASE WHEN lt_sel.n_args IS NULL THEN tasks.args_hash"
                        " ELSE lt_args_hash(lt_sel.n_args) END")
        if pending_worker:  # SET reads the row before the change: its old status
            sets.append(f"worker_id = CASE WHEN {pending_worker} THEN NULL ELSE"
                        " tasks.worker_id END")
        # UPDATE … FROM only for the documents' new text: IN (a list) is faster
        which = ("FROM lt_sel WHERE tasks.rowid = lt_sel.rid AND" if spec.docs else
                 "WHERE tasks.rowid IN (SELECT rid FROM lt_sel WHERE") + f" ({changed})"
        con.execute(f"UPDATE tasks SET {', '.join(sets)}, last_modified = ?, version ="
                    f" tasks.version + 1 {which}{'' if spec.docs else ')'}",
                    [*values.values(), _stamp(datetime.now(UTC))])

    _write(con, selected, "updated", body)
    return out


def _describe(cols: dict[str, Any], per_field: dict[str, int], n_changed: int
              ) -> tuple[str, str]:
    """``journal.describe_update`` from counts: each changing task changed some of the
    fields; a field's new value is the same for every task."""
    keys = {name for name, n in per_field.items() if n}
    value = {**cols, "worker_id": None}
    changes = [{k: value.get(k) for k in keys}]
    if "status" in keys and per_field["status"] < n_changed:
        changes.append({k: value.get(k) for k in keys if k != "status"})
    return journal_rules.describe_update(changes, n_changed)


def _bump(con: sqlite3.Connection) -> None:
    con.execute("UPDATE change_marker SET seq = seq + 1 WHERE id = 1")


# -- delete ------------------------------------------------------------------------------------

def delete_tasks(con: sqlite3.Connection, scope: Scope, *, write: bool, force: bool,
                 ids_only: bool, shown: dict[str, int] | None = None,
                 want_state: bool = False) -> Outcome:
    """Delete the selection as ``TaskWrites.delete`` does, with the journal's before-images.
    ``ids_only``: every id must be there. Running tasks without ``force``, and a missing id,
    raise :class:`Fallback` (the store's error); ``shown`` as in :func:`update_tasks`."""
    selected, running = _select(con, scope, ", tasks.status = 'running' AS running", (),
                                "count(*), coalesce(sum(running), 0)")
    _check_shown(con, shown, "deleted")
    if ids_only and shown is None and scope.ids is not None and selected != len(set(scope.ids)):
        raise Fallback("an id is not there: the store names it")
    if running and not force:
        raise Fallback("running tasks: the store refuses them")
    out = Outcome(int(selected), int(selected), _state(con) if want_state else None)
    if not write or not selected:
        return out

    def body() -> None:
        if journal_rules.enabled():
            entry = _journal_entry(con, scope.queue, "delete",
                                   f"delete {journal_rules.plural(out.selected)}", out.selected)
            _journal_images(con, entry, "1", deleted=True)
        con.execute("DELETE FROM tasks WHERE rowid IN (SELECT rid FROM lt_sel)")

    _write(con, out.selected, "deleted", body)
    return out
