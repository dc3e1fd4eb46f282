"""``labtasker-tui worker``: list workers and change their status."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from ..worker_states import WORKER_STATES as _STATES  # plain data: --help stays fast


def _run(ctx: click.Context, fn: Any) -> Any:
    from .context import run

    return run(ctx.obj, fn)


@click.group("worker", context_settings={"help_option_names": ["-h", "--help"]})
def worker() -> None:
    """Workers of this queue (created by `loop`)."""


@worker.command("ls", epilog="""
\b
Examples:
  labtasker-tui worker ls
  labtasker-tui worker ls -s lost
  labtasker-tui worker ls -s crashed -q | xargs -n1 labtasker-tui worker activate

\b
STATE: active (running a task, heartbeats recent), idle (alive, waiting for tasks with
--follow), exited (its loop stopped cleanly), lost (no heartbeat for longer than its task's
heartbeat timeout, or 90s without a task, and no clean exit: killed or its machine is gone),
suspended (`worker suspend`), crashed (too many task failures; `worker activate` resets it).
""")
@click.option("-s", "--status", "--state", "state", type=click.Choice(list(_STATES)),
              help="Only workers in this state.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl"]),
              default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="Worker ids only.")
@click.pass_context
def ls(ctx: click.Context, state: str | None, fmt: str, quiet: bool) -> None:
    """List workers: state, failures, last seen, current task."""
    from ..safe_text import inert
    from ..store import workers as worker_rows
    from ..timefmt import ago

    async def load(store: Any) -> list[Any]:
        return await worker_rows.worker_states(store, state)

    states = _run(ctx, load)
    if quiet:
        for ws in states:
            click.echo(inert(ws.info.worker_id))
        return
    if fmt in ("json", "jsonl"):
        records = []
        for ws in states:
            rec = ws.info.record()
            rec["created_at"] = ws.info.created_at.isoformat()
            rec["last_seen"] = ws.info.last_seen.isoformat()
            rec["state"] = ws.state
            rec["task_id"] = ws.task_id
            records.append(rec)
        if fmt == "json":
            click.echo(json.dumps(records, indent=2))
        else:
            for rec in records:
                click.echo(json.dumps(rec, separators=(",", ":")))
        return
    if not states:
        click.echo("No workers.", err=True)
        return
    now = datetime.now(UTC)
    rows = [("WORKER_ID", "NAME", "HOST", "SLOT", "STATE", "FAILURES", "LAST_SEEN", "TASK")]
    for ws in states:
        w = ws.info
        rows.append((w.worker_id, w.worker_name or "-", w.host or "-", w.slot or "-", ws.state,
                     f"{w.retries}/{w.max_retries if w.max_retries < 2**31 - 1 else 'inf'}",
                     ago(min(w.last_seen, now), now), ws.task_id or "-"))
    rows = [tuple(inert(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())


def _set_status(ctx: click.Context, worker_ids: tuple[str, ...], status: str) -> None:
    from ..store import workers as worker_rows

    async def apply(store: Any) -> list[Any]:
        return [await worker_rows.set_worker_status(store, wid, status) for wid in worker_ids]

    from ..safe_text import inert

    for info in _run(ctx, apply):
        click.echo(f"{inert(info.worker_id)} {info.status}")


@worker.command("activate")
@click.argument("worker_ids", nargs=-1, required=True)
@click.pass_context
def activate(ctx: click.Context, worker_ids: tuple[str, ...]) -> None:
    """Make workers active again (resets their failure count)."""
    _set_status(ctx, worker_ids, "active")


@worker.command("suspend")
@click.argument("worker_ids", nargs=-1, required=True)
@click.pass_context
def suspend(ctx: click.Context, worker_ids: tuple[str, ...]) -> None:
    """Stop workers from taking new tasks (their loop exits at the next fetch)."""
    _set_status(ctx, worker_ids, "suspended")


@worker.command("delete")
@click.argument("worker_ids", nargs=-1, required=True)
@click.pass_context
def delete(ctx: click.Context, worker_ids: tuple[str, ...]) -> None:
    """Delete workers; their tasks keep their status but lose the worker id."""
    from ..store import workers as worker_rows

    async def apply(store: Any) -> list[str]:
        known = {w.worker_id for w in await worker_rows.list_workers(store)}
        missing = [wid for wid in worker_ids if wid not in known]
        if not missing:
            for wid in worker_ids:
                await worker_rows.delete_worker(store, wid)
        return missing

    missing = _run(ctx, apply)
    if missing:
        from .context import BadInput

        raise BadInput(f"worker not found: {missing[0]}")
