"""`update` and `delete` by ids or selectors: shown first, then applied exactly."""

from __future__ import annotations

from typing import Any

import click

from .context import (
    AppContext,
    BadInput,
    interactive,
    pass_app,
    run,
    stdin_ids,
)
from .selectors import (
    compile_filter,
    confirm_or_refuse,
    make_selection,
    resolve_task_ids,
    selector_options,
)

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
    ids = list(task_ids)
    if (todo or reset_pending) and not (dry_run or verbose):
        from . import direct_writes  # SQLite: one direct transaction, else the store below

        ids = _ids_or_stdin(ids, name, status, filter_text)
        compiled = direct_writes.update(app, ids, name, status, filter_text, todo,
                                        reset_pending, yes, quiet)
        if compiled is direct_writes.DONE:
            return
    else:
        compiled = compile_filter(filter_text)
        ids = _ids_or_stdin(ids, name, status, filter_text)
    ids = resolve_task_ids(app, ids)
    if not todo and not reset_pending:
        if quiet or not interactive():
            raise BadInput("nothing to update: give KEY=VALUE assignments or --reset-pending")
        from ..tui.app import run_app
        from .ls_cmd import _name_to_ids

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


def _ids_or_stdin(ids: list[str], name: str | None, status: str | None,
                  filter_text: str | None) -> list[str]:
    """The ids given, else (no selector at all) the ids piped on stdin; none: exit 2."""
    if ids or name or status or (filter_text is not None and filter_text.strip()):
        return ids
    ids = stdin_ids()
    if not ids:
        raise BadInput("no tasks selected: give --id, --name, --status, -f, or ids on stdin"
                       " (update never changes all tasks silently)")
    return ids


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
    id_list = list(dict.fromkeys(list(ids) + list(task_ids)))
    by_selector = bool(name or status or (filter_text is not None and filter_text.strip()))
    if not id_list and not by_selector:
        id_list = list(dict.fromkeys(stdin_ids()))
        if not id_list:
            raise BadInput("no tasks selected: give ids, --name, --status, -f, or ids on stdin")
    if dry_run:
        compiled = compile_filter(filter_text)
    else:
        from . import direct_writes  # SQLite: one direct transaction, else the store below

        compiled = direct_writes.delete(app, id_list, name, status, filter_text, yes, quiet,
                                        force)
        if compiled is direct_writes.DONE:
            return
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
