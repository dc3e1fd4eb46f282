"""`undo` and `redo`: reverse a journaled change (store/journal.py), after a preview."""

from __future__ import annotations

from typing import Any

import click

from .context import AppContext, BadInput, pass_app, run
from .selectors import confirm_or_refuse

EPILOG = """
\b
Examples:
  labtasker-tui undo --list              # recent changes of this queue
  labtasker-tui undo                     # undo the newest change (asks first)
  labtasker-tui undo --id 12 --yes       # undo entry 12; an undo entry: redo it
  labtasker-tui redo                     # redo the newest undo
\b
Retention: the newest $LABTASKER_TUI_JOURNAL_KEEP entries per queue (200) and at most
$LABTASKER_TUI_JOURNAL_DAYS days (30), pruned at each change.
"""


def _entry_line(e: Any, who_width: int = 0) -> str:
    when = e.created_at.strftime("%Y-%m-%d %H:%M:%S")
    state = f"  (undone by {e.undone_by})" if e.undone_by else ""
    who = f"{e.who} ({e.actor})".ljust(who_width)
    return f"{e.id:>6}  {when}  {who}  {e.summary}{state}".rstrip()


def _inert(text: str) -> str:
    from ..safe_text import inert

    return inert(text)


def _run_undo(app: AppContext, entry_id: int | None, redo: bool, yes: bool,
              dry_run: bool) -> None:
    from ..store import journal

    async def plan(store: Any) -> Any:
        return await journal.preview(store, entry_id, redo=redo)

    shown = run(app, plan)
    e = shown.entry
    click.echo(f"entry {e.id}: {_inert(e.summary)}  ({e.who}, {e.actor},"
               f" {e.created_at:%Y-%m-%d %H:%M:%S} UTC)", err=True)
    if shown.conflicts:
        for line in shown.conflicts[:10]:
            click.echo(f"  conflict: {_inert(line)}", err=True)
        if len(shown.conflicts) > 10:
            click.echo(f"  … and {len(shown.conflicts) - 10} more", err=True)
        raise BadInput(f"{shown.verb} refused: {len(shown.conflicts)} of the"
                       f" {len(shown.steps)} tasks changed since entry {e.id}; nothing written")
    if dry_run:
        click.echo(f"{shown.preview}")
        click.echo(f"Dry run: nothing {shown.verb}ne.", err=True)
        return
    confirm_or_refuse(f"{shown.preview}?", yes)

    async def apply(store: Any) -> Any:
        return await journal.undo(store, e.id)

    done = run(app, apply)
    click.echo(f"{done.preview} (entry {done.new_entry}; "
               f"{'undo' if done.verb == 'redo' else 'redo'} it with"
               f" `labtasker-tui {'undo' if done.verb == 'redo' else 'redo'}`)")


@click.command(epilog=EPILOG)
@click.option("--list", "list_", is_flag=True, help="Show recent journal entries.")
@click.option("--id", "entry_id", type=int, default=None, metavar="N",
              help="Undo entry N (an undo entry: redo it). Default: the newest change.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask first.")
@click.option("--dry-run", is_flag=True, help="Show what undo would do; change nothing.")
@click.option("--prune", is_flag=True, help="Drop entries beyond the retention now.")
@click.option("-n", "--limit", type=click.IntRange(1), default=20, show_default=True,
              help="Entries shown by --list.")
@pass_app
def undo(app: AppContext, list_: bool, entry_id: int | None, yes: bool, dry_run: bool,
         prune: bool, limit: int) -> None:
    """Undo the newest change made from the app or the CLI (after a preview), or one by id.

    Refuses, writing nothing, when a task changed since the change (a worker ran it, someone
    edited it, a deleted id exists again). An undo is itself journaled: `redo` reverses it."""
    from ..store import journal

    if list_:
        rows = run(app, lambda store: journal.entries(store, limit))
        if not rows:
            click.echo(f"No journal entries in queue {app.queue!r}.", err=True)
            return
        width = max(len(f"{e.who} ({e.actor})") for e in rows)
        click.echo(f"{'ID':>6}  {'WHEN (UTC)':<19}  {'WHO':<{width}}  WHAT")
        for e in rows:
            click.echo(_inert(_entry_line(e, width)))
        return
    if prune:
        n = run(app, journal.prune_now)
        click.echo(f"Pruned {n} journal entr{'y' if n == 1 else 'ies'}.")
        return
    _run_undo(app, entry_id, False, yes, dry_run)


@click.command(epilog=EPILOG)
@click.option("-y", "--yes", is_flag=True, help="Do not ask first.")
@click.option("--dry-run", is_flag=True, help="Show what redo would do; change nothing.")
@pass_app
def redo(app: AppContext, yes: bool, dry_run: bool) -> None:
    """Redo the newest undo (reverse it), after a preview."""
    _run_undo(app, None, True, yes, dry_run)
