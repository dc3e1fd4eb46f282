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
from .direct_output import TaskWriter, write_ids
from .direct_reads import merge_view
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
    sort_keys = parse_sort(sort) if sort else []
    columns = _parse_columns(columns_text, "--columns") if columns_text is not None else None
    headless = bool(quiet or no_pager or fmt or verbose) or not interactive()
    plan = None
    if headless and not verbose:
        from . import direct_reads

        con = None
        if view_name:
            con = direct_reads.connect(app, task_ids)
            if con is not None:
                found = direct_reads.view(con, app, view_name)
                if found is None:
                    con.close()
                    raise _no_view(view_name)
                filter_text, sort_keys, columns = merge_view(found, filter_text, sort_keys,
                                                              columns)
                view_name = None
        # the table's progress column reads the runs through the store
        runs_shown = (bool(columns) and "progress" in (columns or ()) and not quiet
                      and (fmt or "table") == "table")
        if runs_shown and con is not None:
            con.close()
        if not view_name and not runs_shown:
            plan = direct_reads.plan(app, filter_text, task_ids, con)
            if plan.con is not None:
                if quiet:
                    chunks = direct_reads.ids(plan, app, task_ids, name, status, limit, offset,
                                              sort_keys)
                    guard_pipe(lambda: write_ids(chunks))
                    return
                writer = TaskWriter(fmt or "table", columns, sort_keys, sys.stdout)
                batches = direct_reads.task_batches(plan, app, task_ids, name, status,
                                                    sort_keys, limit, offset, batch=500)

                def write() -> None:
                    for tasks in batches:
                        writer.batch(tasks)
                    writer.close()

                guard_pipe(write)
                return
    if view_name:
        filter_text, sort_keys, columns = _apply_view(app, view_name, filter_text, sort_keys,
                                                      columns)
    compiled = (plan.compiled_filter() if plan is not None and plan.filter_text == filter_text
                else compile_filter(filter_text))
    task_ids = tuple(resolve_task_ids(app, task_ids))
    if not headless:
        from ..tui.app import run_app

        ids = _name_to_ids(app, compiled, list(task_ids), name, status)
        raise SystemExit(run_app(app.url, app.queue, filter_text=filter_text, status=status,
                                 ids=ids, sort=sort_keys))

    async def go(store: Any) -> None:
        sel = make_selection(store, compiled, task_ids, name, status, verbose)
        out = sys.stdout
        if quiet:
            async with aclosing(store.iter_batches(sel, sort=sort_keys, limit=limit or None,
                                                   offset=offset, ids_only=True)) as batches:
                async for ids in batches:
                    out.write("\n".join(ids) + "\n")
            return
        writer = TaskWriter(fmt or "table", columns, sort_keys, out)
        # batches of 500: memory stays flat and table columns align within each batch
        async with aclosing(store.iter_batches(sel, sort=sort_keys, limit=limit or None,
                                               offset=offset, batch=500)) as batches:
            async for tasks in batches:
                writer.batch(tasks, await _runs(store, tasks) if writer.shows_progress
                             else None)
        writer.close()

    guard_pipe(lambda: run(app, go))


def _parse_columns(text: str, where: str) -> list[str]:
    from ..tui.cells import parse_columns  # plain text helpers shared with the app (no Textual)

    try:
        return parse_columns(text)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None


async def _runs(store: Any, tasks: list[Any]) -> dict[str, Any]:
    """The progress of the batch's running tasks (the `progress` column)."""
    from ..store.progress import progress_of

    return await progress_of(store, [t.task_id for t in tasks if t.status == "running"])


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


def _no_view(view_name: str) -> BadInput:
    return BadInput(f"no saved view named {view_name!r} (see: labtasker-tui view ls)")


def _apply_view(app: AppContext, view_name: str, filter_text: str | None,
                sort_keys: list[tuple[str, bool]], columns: list[str] | None
                ) -> tuple[str | None, list[tuple[str, bool]], list[str]]:
    from ..store.views import get_view

    view = run(app, lambda store: get_view(store, view_name))
    if view is None:
        raise _no_view(view_name)
    return merge_view((view.filter, list(view.sort), list(view.columns)), filter_text,
                       sort_keys, columns)
