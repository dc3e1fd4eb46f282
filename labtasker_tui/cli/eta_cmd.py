"""`eta`: when the selected tasks will be done, the throughput, and the stalled tasks."""

from __future__ import annotations

import json
from typing import Any

import click

from .context import AppContext, BadInput, pass_app, run
from .selectors import compile_filter, make_selection, resolve_task_ids, selector_options

EXAMPLES = """
\b
Examples:
  labtasker-tui eta
  labtasker-tui eta -f "metadata.sweep == 'lr-grid'"
  labtasker-tui eta --format json
  labtasker-tui eta --stalled --stalled-after 10m      # ids of stalled tasks, one a line

\b
How: remaining = pending + the unfinished part of the running tasks (their reported
progress, else their run time over the median run); slots = live workers of the queue
(at least the running tasks); time = remaining × median of the latest 50 successful runs /
slots. With no finished run yet, the completions of the last hour give the rate. A running
task whose reported progress has not moved for --stalled-after is stalled.
"""


@click.command(epilog=EXAMPLES)
@selector_options
@click.option("--stalled-after", "stalled_after", metavar="DURATION", default=None,
              help="Progress unmoved this long means stalled: 30m, 90s, 2h (default"
                   " $LABTASKER_TUI_STALLED_AFTER, else 30m).")
@click.option("--stalled", "stalled_only", is_flag=True,
              help="Print only the ids of the stalled tasks, one a line.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@pass_app
def eta(app: AppContext, task_ids: tuple[str, ...], name: str | None, status: str | None,
        filter_text: str | None, stalled_after: str | None, stalled_only: bool,
        fmt: str) -> None:
    """Estimate when the selected tasks will be done; show the throughput and the tasks whose
    progress has stalled."""
    from ..eta import estimate, parse_duration, stalled_after_setting
    from ..schema import utcnow

    try:
        limit = (parse_duration(stalled_after, "--stalled-after") if stalled_after is not None
                 else stalled_after_setting())
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    compiled = compile_filter(filter_text)
    task_ids = tuple(resolve_task_ids(app, task_ids))

    async def go(store: Any) -> tuple[Any, dict[str, Any]]:
        from ..store.progress import eta_inputs

        sel = make_selection(store, compiled, task_ids, name, status)
        now = utcnow()
        est = estimate(await eta_inputs(store, sel, now=now), now, limit)
        names: dict[str, Any] = {}
        if est.stalled and not stalled_only:
            from ..store.task_store import Selection

            names = {t.task_id: t.task_name for t in await store.list(
                Selection(ids=[i for i, _ in est.stalled]))}
        return est, names

    est, names = run(app, go)
    if stalled_only:
        for task_id, _ in est.stalled:
            click.echo(task_id)
        return
    if fmt == "json":
        click.echo(json.dumps({**est.as_dict(), "stalled_after_seconds": limit},
                              ensure_ascii=False))
        return
    _print_text(est, names, limit)


def _print_text(est: Any, names: dict[str, Any], limit: float) -> None:
    from ..eta import fmt_span
    from ..safe_text import inert

    click.echo(est.text())
    peak = max(est.per_hour, default=0)
    click.echo(f"completions per hour, last {len(est.per_hour)} h: {est.spark}"
               f"  (peak {peak:,}/h, last hour {est.last_hour:,})")
    if est.stalled:
        click.echo(f"stalled (progress unmoved for {fmt_span(limit)} or more):")
        for task_id, moved in est.stalled:
            name = inert(names.get(task_id) or "")
            idle = fmt_span((est.now - moved).total_seconds()) if est.now else "?"
            click.echo(f"  {task_id[:8]}  {name:<20}  unmoved for {idle}".rstrip())
