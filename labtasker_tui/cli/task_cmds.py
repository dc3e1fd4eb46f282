"""Headless task commands: count, export, import and init (ls, submit, update and delete
live in their own modules)."""

from __future__ import annotations

import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any

import click

from ..settings import ENV_DB, env
from .context import (
    AppContext,
    guard_pipe,
    pass_app,
    pass_app_creating,
    run,
)
from .records import _name_records, _read_records
from .selectors import (
    make_selection,
    resolve_task_ids,
    selector_options,
)


@click.command(epilog="""
\b
Examples:
  labtasker-tui count
  labtasker-tui count -f "args.model == 'vit'" --format json
""")
@selector_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def count(app: AppContext, task_ids: tuple[str, ...], name: str | None, status: str | None,
          filter_text: str | None, fmt: str) -> None:
    """Count tasks by status for the selectors and filter."""
    from . import direct_reads

    plan = direct_reads.plan(app, filter_text, task_ids)
    if plan.con is not None:
        counts = direct_reads.count_by_status(plan, app, task_ids, name, status)
    else:
        compiled = plan.compiled_filter()
        task_ids = tuple(resolve_task_ids(app, task_ids))

        async def go(store: Any) -> dict[str, int]:
            sel = make_selection(store, compiled, task_ids, name, status)
            return await store.count_by_status(sel)

        counts = run(app, go)
    from .direct_output import write_counts

    write_counts(counts, fmt)


@click.command("export", epilog="""
\b
Examples:
  labtasker-tui export > backup.jsonl
  labtasker-tui export -f "status == 'success'" | labtasker-tui --db other.db import -
""")
@selector_options
@pass_app
def export_cmd(app: AppContext, task_ids: tuple[str, ...], name: str | None,
               status: str | None, filter_text: str | None) -> None:
    """Export full task records as JSON lines (for import)."""
    from . import direct_reads

    plan = direct_reads.plan(app, filter_text, task_ids)
    if plan.con is not None:
        from .direct_output import EXPORT_ORDER, write_export

        batches = direct_reads.task_batches(plan, app, task_ids, name, status, EXPORT_ORDER,
                                            0, 0, batch=1000)
        guard_pipe(lambda: write_export(batches))
        return
    compiled = plan.compiled_filter()
    task_ids = tuple(resolve_task_ids(app, task_ids))

    async def go(store: Any) -> None:
        from ..formats import task_jsonl

        sel = make_selection(store, compiled, task_ids, name, status)
        write = sys.stdout.write
        from .direct_output import EXPORT_ORDER

        async with aclosing(store.iter(sel, sort=EXPORT_ORDER)) as rows:
            async for t in rows:
                write(task_jsonl(t) + "\n")

    guard_pipe(lambda: run(app, go))


@click.command("import", epilog="""
\b
Examples:
  labtasker-tui import backup.jsonl
  labtasker-tui import tasks.json --replace       # a JSON array works too
  labtasker-tui export | labtasker-tui --db sqlite:///copy.db import -
  labtasker-tui import grid.jsonl --dedup skip    # only configurations not in the queue yet


Duplicates (args and cmd equal to a task of the record's queue, or to an earlier record):
--dedup allow (the default, a restore copies everything) imports them and says how many;
skip leaves them out; error imports nothing (exit 2). --requeue-failed resets failed copies
to pending instead of importing them again.
""")
@click.argument("file", type=click.File("rb"))
@click.option("--replace", is_flag=True, help="Overwrite tasks whose id already exists.")
@click.option("--queue", "queue", default=None, metavar="QUEUE",
              help="Put every task in QUEUE. Without it (and without the global --queue), each "
                   "record keeps its own queue_id (a restore); records without one go to the "
                   "current queue.")
@click.option("--dedup", type=click.Choice(["allow", "skip", "error"]), default="allow",
              show_default=True,
              help="What to do with records whose configuration is already in their queue.")
@click.option("--requeue-failed", is_flag=True,
              help="Reset failed copies of the imported configurations to pending instead.")
@click.option("-q", "--quiet", is_flag=True, help="No output.")
@click.option("--no-journal", is_flag=True,
              help="Do not journal the import (faster bulk loads; `undo` cannot reverse it).")
@pass_app_creating
@click.pass_context
def import_cmd(ctx: click.Context, app: AppContext, file: Any, replace: bool,
               queue: str | None, dedup: str, requeue_failed: bool, quiet: bool,
               no_journal: bool) -> None:
    """Import full task records (ids, status, timestamps and summary kept) in one transaction.

    All or nothing: a bad record (named by its line) writes none."""
    import re

    if queue is not None:
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,100}", queue):
            raise click.BadParameter("queue names use letters, digits, '_' and '-'",
                                     param_hint="--queue")
        app.queue = queue
    elif _explicit_global_queue(ctx):
        queue = app.queue
    records, labels = _read_records(file, "record")
    if queue is not None:
        for rec in records:
            rec.pop("queue", None)
            rec["queue_id"] = queue

    async def go(store: Any) -> Any:
        from ..store.dedup import DuplicateError

        with _name_records(file, labels, r"record (\d+): "):
            try:
                return await store.import_batch(records, replace=replace,
                                                journaled=not no_journal, dedup=dedup,
                                                requeue_failed=requeue_failed)
            except DuplicateError as exc:
                return exc

    from .submit_cmd import report_outcome

    out = report_outcome(run(app, go), quiet)
    if not quiet:
        replaced = out.replaced
        extra = f", {replaced} replaced" if replaced else ""
        click.echo(f"Imported {len(out.ids)} tasks ({len(out.ids) - replaced} new{extra}).")


def _explicit_global_queue(ctx: click.Context) -> bool:
    """Whether ``labtasker-tui --queue Q import ...`` named the queue on the command line."""
    from click.core import ParameterSource

    parent = ctx.parent
    return (parent is not None
            and parent.get_parameter_source("queue") is ParameterSource.COMMANDLINE)


@click.command()
@click.option("--force", is_flag=True, help="Succeed even if the database exists.")
@pass_app_creating
def init(app: AppContext, force: bool) -> None:
    """Create .labtasker/tasks.db here (or the --db database) and its schema."""
    from ..store.location import DB_FILE, PROJECT_DIR, display_url, normalise_url

    if app.db is None and not env(ENV_DB):
        path = Path.cwd() / PROJECT_DIR / DB_FILE
        existed = path.exists()
        app.db = normalise_url(str(path))
    else:
        existed = False
    run(app, lambda store: store.ensure_schema())
    click.echo(f"{'Using existing' if existed else 'Initialised'} database {display_url(app.url)}"
               f" (queue {app.queue!r}).")
