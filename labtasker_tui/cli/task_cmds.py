"""Headless task commands: init, submit, ls, update, delete, count, export, import."""

from __future__ import annotations

import json
import sys
from contextlib import aclosing
from pathlib import Path
from typing import Any

import click

from ..settings import ENV_DB, env
from .context import (
    AppContext,
    BadInput,
    interactive,
    pass_app,
    pass_app_creating,
    run,
    stdin_ids,
)
from .selectors import (
    compile_filter,
    confirm_or_refuse,
    make_selection,
    parse_sort,
    resolve_task_ids,
    selector_options,
)

EXAMPLES_SUBMIT = """
\b
Examples:
  labtasker-tui submit -- --lr 0.1 --model resnet --opt.momentum 0.9
  labtasker-tui submit --name grid-1 --metadata '{"tags": ["v1", "exp"]}' -- --lr 0.1
  labtasker-tui submit --args '{"foo.bar": 0.1}' --priority 20 --quiet
  labtasker-tui submit --file tasks.jsonl      # one JSON task spec a line; '-' reads stdin
"""


@click.command(epilog=EXAMPLES_SUBMIT)
@click.option("--args", "args_text", metavar="DICT", help="Args as JSON or a Python dict literal.")
@click.option("--metadata", "metadata_text", metavar="DICT",
              help="Metadata as JSON or a Python dict literal.")
@click.option("--name", "--task-name", "name", help="Task name ([a-zA-Z0-9_-], not unique).")
@click.option("--priority", type=int, default=None, help="Higher runs first (default 10).")
@click.option("--cmd", "cmd", default=None, help="Command string stored on the task.")
@click.option("--max-retries", type=int, default=None, help="Attempts before failed (default 3).")
@click.option("--heartbeat-timeout", type=float, default=None, help="Seconds (default 60).")
@click.option("--task-timeout", type=int, default=None, help="Seconds (default none).")
@click.option("--file", "file", type=click.File("rb"), default=None,
              help="Submit a batch: JSON lines (or a JSON array) of task specs; '-' is stdin."
                   " All or nothing: one bad spec (named by its line) writes none.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the task id(s).")
@click.argument("tokens", nargs=-1, type=click.UNPROCESSED)
@pass_app_creating
def submit(app: AppContext, args_text: str | None, metadata_text: str | None, name: str | None,
           priority: int | None, cmd: str | None, max_retries: int | None,
           heartbeat_timeout: float | None, task_timeout: int | None, file: Any, quiet: bool,
           tokens: tuple[str, ...]) -> None:
    """Submit a task: its args after `--`, or as a dict with --args."""
    from ..args import parse_cli_args, parse_dict_literal

    if file is not None:
        if tokens or args_text:
            raise BadInput("--file cannot be combined with args")
        specs, labels = _read_records(file, "task spec")

        async def go(store: Any) -> list[str]:
            with _name_records(file, labels, r"task (\d+): "):
                return await store.submit(specs)

        ids = run(app, go)
        for task_id in ids:
            click.echo(task_id)
        if not quiet:
            click.echo(f"Submitted {len(ids)} tasks.", err=True)
        return
    if tokens and args_text:
        raise BadInput("You can only specify one of the [ARGS] or --args")
    try:
        if tokens:
            args, dropped = parse_cli_args(list(tokens))
            for flag in dropped:
                click.echo(f"Warning: {flag} has no value and was dropped "
                           f"(write {flag}=VALUE to keep it)", err=True)
        else:
            args = parse_dict_literal(args_text or "", "args") or {}
        metadata = parse_dict_literal(metadata_text or "", "metadata") or {}
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    spec: dict[str, Any] = {"args": args, "metadata": metadata}
    for key, value in (("task_name", name), ("priority", priority), ("cmd", cmd),
                       ("max_retries", max_retries), ("heartbeat_timeout", heartbeat_timeout),
                       ("task_timeout", task_timeout)):
        if value is not None:
            spec[key] = value
    ids = _fast_submit(app, spec)
    if ids is None:
        ids = run(app, lambda store: store.submit([spec]))
    click.echo(ids[0] if quiet else f"Task submitted with ID: {ids[0]}")


def _fast_submit(app: AppContext, spec: dict[str, Any]) -> list[str] | None:
    """One task into an existing SQLite file through sqlite3 (None: use the store)."""
    import sqlite3

    from ..errors import UserError
    from ..store.location import sqlite_path

    path = sqlite_path(app.url)
    if path is None:
        return None
    from ..store.sqlite_direct import submit_sqlite

    try:
        return submit_sqlite(path, app.queue, [spec])
    except UserError as exc:
        raise BadInput(str(exc)) from None
    except sqlite3.Error as exc:
        from .context import database_error

        raise database_error(str(exc), app.url) from None


def _read_records(file: Any, what: str) -> tuple[list[dict[str, Any]], list[str]]:
    """JSON lines, or one JSON array, from a file opened in binary; returns the records and a
    label for each ("line 3" for JSON lines, "record 3" in an array) for error messages.

    Input that is not UTF-8, not JSON or nested too deeply is a one-line error naming the file
    and the line."""
    import gc

    from ..formats import iter_json_records

    name = _file_name(file)
    data = file.read()
    if isinstance(data, str):  # a text stream (tests, callers passing StringIO)
        text = data
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise BadInput(f"{name}: not UTF-8 text: byte {exc.start} (line {line}) is "
                           f"{data[exc.start:exc.start + 1]!r}") from None
    # a batch allocates millions of small objects that all live until the process ends:
    # the cyclic GC would rescan them again and again (a third of the import time)
    gc.disable()
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{name}: line {exc.lineno}, column "
                           f"{exc.colno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise BadInput(f"{name}: invalid JSON: nested too deeply") from None
        labels = [f"record {i}" for i in range(1, len(records) + 1)]
    else:
        try:
            pairs = list(iter_json_records(text.splitlines()))
        except ValueError as exc:
            raise BadInput(f"{name}: {exc}") from None
        records = [rec for _, rec in pairs]
        labels = [f"line {lineno}" for lineno, _ in pairs]
    for label, rec in zip(labels, records, strict=True):
        if not isinstance(rec, dict):
            raise BadInput(f"{name}: {label}: expected a JSON object ({what}), "
                           f"got {type(rec).__name__}")
    return records, labels


def _file_name(file: Any) -> str:
    name = getattr(file, "name", None)
    return "<stdin>" if name in (None, "-", "<stdin>", 0) or not isinstance(name, str) else name


class _name_records:  # noqa: N801 - used as a context manager
    """Rewrite the store's "record N: "/"task N: " error prefix into "FILE: line L: "."""

    def __init__(self, file: Any, labels: list[str], pattern: str) -> None:
        import re

        self.name = _file_name(file)
        self.labels = labels
        self.pattern = re.compile(pattern)

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        from ..errors import UserError

        if exc is None or not isinstance(exc, UserError):
            return False
        msg = str(exc)
        m = self.pattern.match(msg)
        if m and 0 < int(m.group(1)) <= len(self.labels):
            msg = f"{self.labels[int(m.group(1)) - 1]}: {msg[m.end():]}"
        elif len(self.labels) == 1:
            msg = f"{self.labels[0]}: {msg}"
        raise BadInput(f"{self.name}: {msg}") from None


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
                    _write_table(tasks, out, first=first, columns=columns)
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

    _guard_pipe(lambda: run(app, go))


def _parse_columns(text: str, where: str) -> list[str]:
    from ..tui.cells import parse_columns  # plain text helpers shared with the app (no Textual)

    try:
        return parse_columns(text)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None


def _write_table(tasks: list[Any], out: Any, *, first: bool, columns: list[str]) -> None:
    """The table with extra columns (aligned per batch, like the plain table)."""
    from datetime import UTC, datetime

    from ..formats import TABLE_COLUMNS, table_row
    from ..tui.cells import column_labels, column_text

    if not tasks:
        return
    now = datetime.now(UTC)
    head = [list(TABLE_COLUMNS) + [label.upper() for label in column_labels(columns)]]
    rows = (head if first else []) + [
        table_row(t, now) + [column_text(t, p, now) or "-" for p in columns] for t in tasks]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


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


def _guard_pipe(fn: Any) -> None:
    """`ls | head` closes the pipe early: exit quietly instead of a traceback."""
    try:
        fn()
        sys.stdout.flush()
    except BrokenPipeError:
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None


def _apply_view(app: AppContext, view_name: str, filter_text: str | None,
                sort_keys: list[tuple[str, bool]]
                ) -> tuple[str | None, list[tuple[str, bool]], list[str]]:
    try:
        from ..store.views import get_view
    except ImportError:
        raise BadInput("saved views are not available in this build") from None
    view = run(app, lambda store: get_view(store, view_name))
    if view is None:
        raise BadInput(f"no saved view named {view_name!r} (see: labtasker-tui view ls)")
    text = view.filter
    if filter_text:
        text = f"({text}) and ({filter_text})" if text else filter_text
    return text, sort_keys or [tuple(s) for s in view.sort], list(view.columns)


EXAMPLES_UPDATE = """
\b
Examples:
  labtasker-tui update --id 3f2a... -- args.lr=0.3 priority=20
  labtasker-tui update -s failed --reset-pending --yes
  labtasker-tui update -f "args.model == 'vit'" -u args.opt.beta=0.5 --dry-run
  labtasker-tui ls -s failed -q | labtasker-tui update --reset-pending -q
  labtasker-tui update --name grid-1              # no assignments: opens the in-app editor
"""


@click.command(epilog=EXAMPLES_UPDATE)
@selector_options
@click.option("-u", "--update", "updates", multiple=True, metavar="KEY=VALUE",
              help="Assignment such as args.lr=0.3 (repeatable).")
@click.option("--reset-pending", is_flag=True,
              help="Also reset: status=pending, retries=0, worker_id cleared.")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before changing several tasks.")
@click.option("-q", "--quiet", is_flag=True, help="No prompts, no output.")
@click.option("-v", "--verbose", is_flag=True, help="Print the parsed filter (stderr).")
@click.argument("assignments", nargs=-1, type=click.UNPROCESSED)
@pass_app
def update(app: AppContext, task_ids: tuple[str, ...], name: str | None, status: str | None,
           filter_text: str | None, updates: tuple[str, ...], reset_pending: bool,
           dry_run: bool, yes: bool, quiet: bool, verbose: bool,
           assignments: tuple[str, ...]) -> None:
    """Update selected tasks with KEY=VALUE assignments (all change together or none)."""
    from ..args import apply_assignments

    if updates and assignments:
        raise BadInput("You can only specify one of the positional [UPDATES] or option --update.")
    todo = list(updates or assignments)
    compiled = compile_filter(filter_text)
    ids = list(task_ids)
    if not (ids or name or status or compiled):
        ids = stdin_ids()
        if not ids:
            raise BadInput("no tasks selected: give --id, --name, --status, -f, or ids on stdin"
                           " (update never changes all tasks silently)")
    ids = resolve_task_ids(app, ids)
    if not todo and not reset_pending:
        if quiet or not interactive():
            raise BadInput("nothing to update: give KEY=VALUE assignments or --reset-pending")
        from ..tui.app import run_app

        ids = _name_to_ids(app, compiled, ids, name, status)
        raise SystemExit(run_app(app.url, app.queue, filter_text=filter_text, status=status,
                                 ids=ids, edit=True))

    def compute(task: Any) -> dict[str, Any]:
        return apply_assignments(task.model_dump(), todo, reset_pending=reset_pending)

    async def plan(store: Any) -> Any:
        sel = make_selection(store, compiled, ids, name, status, verbose)
        return sel, await store.update(sel, compute, reset_pending=reset_pending, dry_run=True)

    sel, changes = run(app, plan)
    changing = [c for c in changes if c.changed]
    if dry_run:
        _print_plan(changes)
        return
    if not changes:
        if not quiet:
            click.echo("No task matches; nothing updated.", err=True)
        return
    if len(changes) > 1 and not quiet:
        confirm_or_refuse(f"Update {len(changes)} tasks ({len(changing)} will change)?", yes)
    # apply exactly what was shown: the store re-evaluates the selection and refuses (exit 2,
    # nothing written) when its ids or versions moved since

    async def apply(store: Any) -> Any:
        return await store.apply_update(sel, changes)

    done = run(app, apply)
    if not quiet:
        click.echo(f"Total {sum(1 for c in done if c.changed)} tasks updated.")


def _print_plan(changes: list[Any]) -> None:
    from ..formats import dumps_compact

    n = 0
    for c in changes:
        if not c.changed:
            continue
        n += 1
        click.echo(f"{c.before.task_id}:")
        before = c.before.model_dump()
        for key, new in c.changes.items():
            click.echo(f"  {key}: {dumps_compact(before.get(key))} -> {dumps_compact(new)}")
    click.echo(f"Dry run: {n} of {len(changes)} selected tasks would change; nothing written.",
               err=True)


EXAMPLES_DELETE = """
\b
Examples:
  labtasker-tui delete 3f2a0b5e-... 9c1d...
  labtasker-tui ls -f 'created_at > date("10 minutes ago")' -q | labtasker-tui delete -y
  labtasker-tui delete -s cancelled --dry-run
"""


@click.command(epilog=EXAMPLES_DELETE)
@selector_options
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("-q", "--quiet", is_flag=True, help="No output; implies --yes.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("--force", is_flag=True,
              help="Also delete running tasks (their workers then lose them).")
@click.argument("ids", nargs=-1)
@pass_app
def delete(app: AppContext, task_ids: tuple[str, ...], name: str | None, status: str | None,
           filter_text: str | None, yes: bool, quiet: bool, dry_run: bool, force: bool,
           ids: tuple[str, ...]) -> None:
    """Delete tasks by id (arguments or stdin) or by selectors; all or nothing.

    Running tasks are refused unless --force. What is deleted is exactly what was shown: if
    the selection changed before the confirmation, nothing is deleted (exit 2)."""
    compiled = compile_filter(filter_text)
    id_list = list(dict.fromkeys(list(ids) + list(task_ids)))
    by_selector = bool(name or status or compiled)
    if not id_list and not by_selector:
        id_list = stdin_ids()
        if not id_list:
            raise BadInput("no tasks selected: give ids, --name, --status, -f, or ids on stdin")
    id_list = list(dict.fromkeys(resolve_task_ids(app, id_list)))

    async def plan(store: Any) -> Any:
        sel = make_selection(store, compiled, id_list, name, status)
        state = await store.selection_state(sel)
        if id_list and not by_selector:
            missing = [x for x in id_list if x not in state]
            if missing:
                more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                from ..errors import NotFoundError

                raise NotFoundError(f"task not found: {missing[0]}{more}; nothing deleted")
        return sel, state

    sel, state = run(app, plan)
    running = sum(1 for _, st in state.values() if st == "running")
    if dry_run:
        for task_id in state:
            click.echo(task_id)
        note = (f" ({running} running: refused without --force)" if running and not force
                else "")
        click.echo(f"Dry run: {len(state)} tasks would be deleted{note}; nothing deleted.",
                   err=True)
        return
    if not state:
        if not quiet:
            click.echo("No task matches; nothing deleted.", err=True)
        return
    if running and not force:
        raise BadInput(f"{running} of the selected tasks are running (a worker is executing"
                       " them); use --force to delete them anyway; nothing deleted")
    if not quiet:
        confirm_or_refuse(f"Delete {len(state)} task(s)? (`labtasker-tui undo` restores them)",
                          yes)
    shown = {task_id: version for task_id, (version, _) in state.items()}

    async def go(store: Any) -> list[str]:
        return await store.delete(sel, force=force, shown=shown)

    deleted = run(app, go)
    if not quiet:
        click.echo(f"Deleted {len(deleted)} task(s).")


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
    compiled = compile_filter(filter_text)
    task_ids = tuple(resolve_task_ids(app, task_ids))

    async def go(store: Any) -> dict[str, int]:
        sel = make_selection(store, compiled, task_ids, name, status)
        return await store.count_by_status(sel)

    counts = run(app, go)
    total = sum(counts.values())
    if fmt == "json":
        click.echo(json.dumps({**counts, "total": total}))
        return
    for key, n in counts.items():
        click.echo(f"{key:<10}{n:>12,}")
    click.echo(f"{'total':<10}{total:>12,}")


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
    compiled = compile_filter(filter_text)
    task_ids = tuple(resolve_task_ids(app, task_ids))

    async def go(store: Any) -> None:
        from ..formats import task_jsonl

        sel = make_selection(store, compiled, task_ids, name, status)
        write = sys.stdout.write
        async with aclosing(store.iter(sel, sort=[("created_at", False)])) as rows:
            async for t in rows:
                write(task_jsonl(t) + "\n")

    _guard_pipe(lambda: run(app, go))


@click.command("import", epilog="""
\b
Examples:
  labtasker-tui import backup.jsonl
  labtasker-tui import tasks.json --replace       # a JSON array works too
  labtasker-tui export | labtasker-tui --db sqlite:///copy.db import -
""")
@click.argument("file", type=click.File("rb"))
@click.option("--replace", is_flag=True, help="Overwrite tasks whose id already exists.")
@click.option("--queue", "queue", default=None, metavar="QUEUE",
              help="Put every task in QUEUE. Without it (and without the global --queue), each "
                   "record keeps its own queue_id (a restore); records without one go to the "
                   "current queue.")
@click.option("-q", "--quiet", is_flag=True, help="No output.")
@click.option("--no-journal", is_flag=True,
              help="Do not journal the import (faster bulk loads; `undo` cannot reverse it).")
@pass_app_creating
@click.pass_context
def import_cmd(ctx: click.Context, app: AppContext, file: Any, replace: bool,
               queue: str | None, quiet: bool, no_journal: bool) -> None:
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

    async def go(store: Any) -> tuple[int, int]:
        with _name_records(file, labels, r"record (\d+): "):
            return await store.import_records(records, replace=replace,
                                              journaled=not no_journal)

    inserted, replaced = run(app, go)
    if not quiet:
        extra = f", {replaced} replaced" if replaced else ""
        click.echo(f"Imported {inserted + replaced} tasks ({inserted} new{extra}).")


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
