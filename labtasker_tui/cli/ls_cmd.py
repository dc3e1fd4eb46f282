"""`ls`: the task list (the app on a terminal), a table, JSON, or ids (`-q`)."""

from __future__ import annotations

import sys
from contextlib import aclosing
from typing import Any

import click

from .context import (
    AppContext,
    BadInput,
    guard_pipe,
    interactive,
    pass_app,
    run,
)
from .selectors import (
    compile_filter,
    make_selection,
    parse_sort,
    resolve_task_ids,
    selector_options,
)

EXAMPLES_LS = """
\b
Examples:
  labtasker-tui ls                                  # opens the task list in a terminal
  labtasker-tui ls -s pending --no-pager            # plain table on stdout
  labtasker-tui ls -f "args.lr > 0.01 and 'exp' in list(metadata.tags)" -q
  labtasker-tui ls -f '{"summary.acc": {"$gte": 0.9}}' --format jsonl --limit 0
  labtasker-tui ls -S summary.acc:desc --limit 10
  labtasker-tui ls -S -summary.acc --columns lr,summary.acc --no-pager
"""


@click.command(epilog=EXAMPLES_LS)
@selector_options
@click.option("-S", "--sort", "sort", multiple=True, metavar="KEY",
              help="Sort key: -summary.acc or summary.acc:desc (repeatable, or comma"
                   " separated); default is fetch order.")
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True,
              help="At most N tasks (0 = no cap).")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N.")
@click.option("--format", "fmt", type=click.Choice(["table", "yaml", "json", "jsonl"]),
              default=None, help="Output format (default table).")
@click.option("-q", "--quiet", is_flag=True, help="Print only task ids.")
@click.option("-v", "--verbose", is_flag=True, help="Also print the Mongo form and SQL (stderr).")
@click.option("--no-pager", is_flag=True, help="Never open the interactive list.")
@click.option("--view", "view_name", default=None,
              help="Start from a saved view (its filter, sort and columns).")
@click.option("--columns", "columns_text", default=None, metavar="PATHS",
              help="Extra table columns, comma separated: args.lr,summary.acc (bare names are"
                   " args paths, as in the app's C).")
@pass_app
def ls(app: AppContext, task_ids: tuple[str, ...], name: str | None, status: str | None,
       filter_text: str | None, sort: tuple[str, ...], limit: int, offset: int,
       fmt: str | None, quiet: bool, verbose: bool, no_pager: bool, view_name: str | None,
       columns_text: str | None) -> None:
    """List tasks matching the selectors and filter."""
    if quiet and verbose:
        raise BadInput("You can only specify one of the options --verbose and --quiet.")
    sort_keys = parse_sort(sort)
    columns = _parse_columns(columns_text, "--columns") if columns_text is not None else None
    if view_name:
        filter_text, sort_keys, view_columns = _apply_view(app, view_name, filter_text,
                                                           sort_keys)
        if columns is None:
            columns = view_columns
    if quiet and not (sort_keys or view_name):
        from . import direct_reads

        plan = direct_reads.plan(app, filter_text, task_ids)
        if plan.con is not None:
            chunks = direct_reads.ids(plan, app, task_ids, name, status, limit, offset)
            guard_pipe(lambda: sys.stdout.writelines(c + "\n" for c in chunks))
            return
        compiled = plan.compiled_filter()
    else:
        compiled = compile_filter(filter_text)
    task_ids = tuple(resolve_task_ids(app, task_ids))
    if not (quiet or no_pager or fmt or verbose) and interactive():
        from ..tui.app import run_app

        ids = _name_to_ids(app, compiled, list(task_ids), name, status)
        raise SystemExit(run_app(app.url, app.queue, filter_text=filter_text, status=status,
                                 ids=ids, sort=sort_keys))

    async def go(store: Any) -> None:
        from ..formats import json_close, write_chunk

        sel = make_selection(store, compiled, task_ids, name, status, verbose)
        out = sys.stdout
        if quiet:
            async with aclosing(store.iter_batches(sel, sort=sort_keys, limit=limit or None,
                                                   offset=offset, ids_only=True)) as batches:
                async for ids in batches:
                    out.write("\n".join(ids) + "\n")
            return
        kind = fmt or "table"
        first = True
        if kind == "json":
            out.write("[")
        # batches of 500: memory stays flat and table columns align within each batch
        absent = {p for p, _ in sort_keys if "." in p}  # JSON paths no listed task has yet
        async with aclosing(store.iter_batches(sel, sort=sort_keys, limit=limit or None,
                                               offset=offset, batch=500)) as batches:
            async for tasks in batches:
                if columns and kind == "table":
                    runs = await _runs(store, tasks, columns)
                    _write_table(tasks, out, first=first, columns=columns, runs=runs)
                else:
                    write_chunk(tasks, kind, out, first=first)
                first = first and not tasks
                absent = {p for p in absent if not any(_has_path(t, p) for t in tasks)}
        if kind == "json":
            out.write(json_close(not first))
        if absent and not first:
            out.flush()
            click.echo(f"Warning: no listed task has {', '.join(sorted(absent))}: that sort key"
                       " orders nothing (check the spelling)", err=True)

    guard_pipe(lambda: run(app, go))


def _parse_columns(text: str, where: str) -> list[str]:
    from ..tui.cells import parse_columns  # plain text helpers shared with the app (no Textual)

    try:
        return parse_columns(text)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None


async def _runs(store: Any, tasks: list[Any], columns: list[str]) -> dict[str, Any] | None:
    """The progress of the batch's running tasks, when a `progress` column is shown."""
    if "progress" not in columns:
        return None
    from ..store.progress import progress_of

    return await progress_of(store, [t.task_id for t in tasks if t.status == "running"])


def _write_table(tasks: list[Any], out: Any, *, first: bool, columns: list[str],
                 runs: dict[str, Any] | None = None) -> None:
    """The table with extra columns (aligned per batch, like the plain table); `progress`
    shows the run's progress of running tasks (``runs``)."""
    from datetime import UTC, datetime

    from ..formats import TABLE_COLUMNS, table_row
    from ..tui.cells import column_labels, column_text, progress_cell

    if not tasks:
        return
    now = datetime.now(UTC)
    stalled_after = _stalled_after() if runs is not None else 0.0

    def cell(t: Any, p: str) -> str:
        if p == "progress" and runs is not None:
            return progress_cell(t, runs.get(t.task_id), now, stalled_after) or "-"
        return column_text(t, p, now) or "-"

    head = [list(TABLE_COLUMNS) + [label.upper() for label in column_labels(columns)]]
    rows = (head if first else []) + [
        table_row(t, now) + [cell(t, p) for p in columns] for t in tasks]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _stalled_after() -> float:
    from ..eta import stalled_after_setting

    try:
        return stalled_after_setting()
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _has_path(task: Any, path: str) -> bool:
    head, *rest = path.split(".")
    node = getattr(task, head, None)
    for seg in rest:
        if not isinstance(node, dict) or seg not in node:
            return False
        node = node[seg]
    return True


def _name_to_ids(app: AppContext, compiled: Any, ids: list[str], name: str | None,
                 status: str | None) -> list[str] | None:
    """The app takes ids, status and filter; a --name selector becomes the ids it selects."""
    from .context import default_interrupts

    app.require_database()
    if name is None:
        default_interrupts()
        return ids or None

    async def go(store: Any) -> list[str]:
        sel = make_selection(store, compiled, ids, name, status)
        return [i async for i in store.iter(sel, ids_only=True)]

    found = run(app, go)
    default_interrupts()
    if not found:
        raise BadInput(f"no task named {name!r} matches the selectors")
    return found


def _apply_view(app: AppContext, view_name: str, filter_text: str | None,
                sort_keys: list[tuple[str, bool]]
                ) -> tuple[str | None, list[tuple[str, bool]], list[str]]:
    from ..store.views import get_view

    view = run(app, lambda store: get_view(store, view_name))
    if view is None:
        raise BadInput(f"no saved view named {view_name!r} (see: labtasker-tui view ls)")
    text = view.filter
    if filter_text:
        text = f"({text}) and ({filter_text})" if text else filter_text
    return text, sort_keys or [tuple(s) for s in view.sort], list(view.columns)
