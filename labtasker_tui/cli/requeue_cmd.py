"""`requeue`: failed (and, with --cancelled, cancelled) tasks back to pending with their
attempts reset, shown first and then applied exactly (as `update` does), journaled."""

from __future__ import annotations

from typing import Any

import click

from .context import AppContext, pass_app, run
from .selectors import _filter_file, compile_filter, confirm_or_refuse, make_selection

EXAMPLES = """
\b
Examples:
  labtasker-tui requeue -f "args.model == 'vit'"          # its failed tasks, after a preview
  labtasker-tui requeue --cancelled -y                     # every failed and cancelled task
  labtasker-tui requeue -f "metadata.sweep == 'lr'" --dry-run
"""
PREVIEW_ROWS = 10


@click.command(epilog=EXAMPLES)
@click.option("-f", "--extra-filter", "filter_text", metavar="FILTER", callback=_filter_file,
              help="Only tasks matching this filter (default: the whole queue); @FILE reads it.")
@click.option("--name", "--task-name", "name", help="Only tasks with this exact name.")
@click.option("--cancelled", is_flag=True, help="Cancelled tasks too.")
@click.option("--dry-run", is_flag=True, help="Show what would be requeued; change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@click.option("-q", "--quiet", is_flag=True, help="No prompts, no output.")
@pass_app
def requeue(app: AppContext, filter_text: str | None, name: str | None, cancelled: bool,
            dry_run: bool, yes: bool, quiet: bool) -> None:
    """Put failed tasks back to pending with their attempts reset (retries 0).

    What is requeued is exactly what was shown: if those tasks changed before the answer,
    nothing is written (exit 2). `labtasker-tui undo` reverses it."""
    compiled = compile_filter(filter_text)

    async def plan(store: Any) -> Any:
        sel = store.requeue_selection(make_selection(store, compiled, [], name, None),
                                      cancelled=cancelled)
        return sel, await store.update(sel, lambda t: {}, reset_pending=True, dry_run=True)

    sel, changes = run(app, plan)
    what = "failed or cancelled" if cancelled else "failed"
    if not changes:
        if not quiet:
            click.echo(f"No {what} task matches; nothing requeued.", err=True)
        return
    if not quiet:
        _preview(changes)
    if dry_run:
        click.echo(f"Dry run: {_count(changes)} would be requeued; nothing written.", err=True)
        return
    if not quiet:
        confirm_or_refuse(f"Requeue {_count(changes)} (to pending, attempts reset)?", yes)

    async def apply(store: Any) -> Any:  # re-checked: exactly the shown tasks and versions
        return await store.apply_update(sel, changes)

    done = run(app, apply)
    if not quiet:
        n = sum(1 for c in done if c.changed)
        click.echo(f"Requeued {n} task{'s' * (n != 1)} (undo: labtasker-tui undo).")


def _count(changes: list[Any]) -> str:
    by: dict[str, int] = {}
    for c in changes:
        by[c.before.status] = by.get(c.before.status, 0) + 1
    n = len(changes)
    return (f"{n:,} task{'s' * (n != 1)} ("
            + ", ".join(f"{k:,} {s}" for s, k in sorted(by.items())) + ")")


def _preview(changes: list[Any]) -> None:
    """The first tasks (id, status, attempts, args) on stderr, like update's preview."""
    from ..formats import dumps_compact

    for c in changes[:PREVIEW_ROWS]:
        t = c.before
        click.echo(f"  {t.task_id[:8]}  {t.status:<9} retries {t.retries} -> 0  "
                   f"{dumps_compact(t.args)[:60]}", err=True)
    if len(changes) > PREVIEW_ROWS:
        click.echo(f"  … and {len(changes) - PREVIEW_ROWS:,} more", err=True)
