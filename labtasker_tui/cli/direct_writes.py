"""``update`` and ``delete`` on an existing SQLite file through the one direct-SQLite path
(:mod:`labtasker_tui.store.sqlite_direct_writes`): no SQLAlchemy engine, no pydantic, no
asyncio; a filter's SQL comes from the compiled-filter cache as for ``count``
(:mod:`.direct_reads`).

Each function returns :data:`DONE` when the command ran here, else the parsed filter for the
store's way, which then runs as ever (any other database, id prefixes, an assignment or a
selection the direct path leaves to the store: see the store module's docstring). Output,
prompts and exit codes are the store path's (tests/cli/test_direct_writes.py runs both).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import click

from . import direct_reads
from .context import AppContext, translate_errors
from .selectors import confirm_or_refuse

DONE: Any = object()


def _run(app: AppContext, p: direct_reads.Plan, step: Callable[[Any], Any]) -> Any:
    """``step(scope)`` on the plan's connection: Fallback -> the parsed filter (store's way);
    database and user errors as the store reports them."""
    from ..errors import UserError
    from ..store.sqlite_direct_writes import Fallback

    try:
        step(p)
    except Fallback:
        p.close()
        return p.compiled_filter()
    except sqlite3.Error as exc:
        raise direct_reads._db_error(exc, app) from None
    except UserError as exc:
        raise translate_errors(exc) from None  # type: ignore[misc]  # UserError: mapped
    finally:
        p.close()
    return DONE


def _scope(app: AppContext, p: direct_reads.Plan, ids: Sequence[str], name: str | None,
           status: str | None) -> Any:
    from ..store.sqlite_direct_writes import Scope

    return Scope(app.queue, p.where, p.params, list(ids) if ids else None, name, status)


def _plan(app: AppContext, filter_text: str | None, ids: Sequence[str]
          ) -> direct_reads.Plan:
    """The direct path's plan; on another database only the filter, parsed (no cache look-up:
    PostgreSQL pays nothing for this path)."""
    from ..store.location import sqlite_path

    if sqlite_path(app.url) is None:
        return direct_reads.Plan(filter_text)
    return direct_reads.plan(app, filter_text, ids)


def update(app: AppContext, ids: list[str], name: str | None, status: str | None,
           filter_text: str | None, todo: list[str], reset_pending: bool, yes: bool,
           quiet: bool) -> Any:
    """``update`` with assignments (not --dry-run, not -v)."""
    p = _plan(app, filter_text, ids)
    if p.con is None:  # another database (PostgreSQL loads nothing of this path), prefixes
        return p.compiled_filter()
    from ..store.sqlite_direct_writes import update_spec, update_tasks

    spec = update_spec(todo, reset_pending)
    if spec is None:
        p.close()
        return p.compiled_filter()

    def step(p: direct_reads.Plan) -> None:
        assert p.con is not None
        scope = _scope(app, p, ids, name, status)
        shown = None
        if not (quiet or yes):  # a prompt may show the count: apply exactly what it showed
            seen = update_tasks(p.con, scope, spec, write=False, want_state=True)
            if seen.selected > 1:
                confirm_or_refuse(f"Update {seen.selected} tasks ({seen.changed} will"
                                  " change)?", yes)
            shown = seen.state
        out = update_tasks(p.con, scope, spec, write=True, shown=shown)
        if quiet:
            return
        if not out.selected:
            click.echo("No task matches; nothing updated.", err=True)
            return
        click.echo(f"Total {out.changed} tasks updated.")

    return _run(app, p, step)


def delete(app: AppContext, ids: list[str], name: str | None, status: str | None,
           filter_text: str | None, yes: bool, quiet: bool, force: bool) -> Any:
    """``delete`` (not --dry-run)."""
    p = _plan(app, filter_text, ids)
    if p.con is None:
        return p.compiled_filter()
    from ..store.sqlite_direct_writes import delete_tasks
    ids_only = bool(ids) and not (name or status or p.filter_text and p.filter_text.strip())

    def step(p: direct_reads.Plan) -> None:
        assert p.con is not None
        scope = _scope(app, p, ids, name, status)
        shown = None
        if not (quiet or yes):  # the prompt shows the count: delete exactly what it showed
            seen = delete_tasks(p.con, scope, write=False, force=force, ids_only=ids_only,
                                want_state=True)
            if not seen.selected:
                click.echo("No task matches; nothing deleted.", err=True)
                return
            confirm_or_refuse(f"Delete {seen.selected} task(s)? (`labtasker-tui undo`"
                              " restores them)", yes)
            shown = seen.state
        out = delete_tasks(p.con, scope, write=True, force=force, ids_only=ids_only,
                           shown=shown)
        if quiet:
            return
        if not out.selected:
            click.echo("No task matches; nothing deleted.", err=True)
            return
        click.echo(f"Deleted {out.selected} task(s).")

    return _run(app, p, step)
