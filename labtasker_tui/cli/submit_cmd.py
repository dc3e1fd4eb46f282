"""`submit`: one task from the command line (the direct SQLite path when it applies), or
a batch from a file."""

from __future__ import annotations

from typing import Any

import click

from .context import (
    AppContext,
    BadInput,
    pass_app_creating,
    run,
)
from .records import _name_records, _read_records

EXAMPLES_SUBMIT = """
\b
Examples:
  labtasker-tui submit -- --lr 0.1 --model resnet --opt.momentum 0.9
  labtasker-tui submit --name grid-1 --metadata '{"tags": ["v1", "exp"]}' -- --lr 0.1
  labtasker-tui submit --args '{"foo.bar": 0.1}' --priority 20 --quiet
  labtasker-tui submit --file tasks.jsonl      # one JSON task spec a line; '-' reads stdin
  labtasker-tui submit --file grid.jsonl --dedup skip --requeue-failed   # only what is missing


Duplicates: a task whose args (compared as `args == {...}` compares them: key order and
1 vs 1.0 do not matter) and cmd are already in the queue. --dedup allow (the default)
submits them anyway and says so; skip submits only the new ones; error submits nothing
(exit 2) if any spec is a duplicate. Repeats inside the file count as duplicates too.
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
@click.option("--dedup", type=click.Choice(["allow", "skip", "error"]), default="allow",
              show_default=True,
              help="What to do with specs already in the queue (or repeated in the batch).")
@click.option("--requeue-failed", is_flag=True,
              help="Reset failed copies of the submitted configurations to pending (attempts"
                   " reset) instead of submitting them again; journaled (undo).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the new task id(s).")
@click.argument("tokens", nargs=-1, type=click.UNPROCESSED)
@pass_app_creating
def submit(app: AppContext, args_text: str | None, metadata_text: str | None, name: str | None,
           priority: int | None, cmd: str | None, max_retries: int | None,
           heartbeat_timeout: float | None, task_timeout: int | None, file: Any, dedup: str,
           requeue_failed: bool, quiet: bool, tokens: tuple[str, ...]) -> None:
    """Submit a task: its args after `--`, or as a dict with --args."""
    from ..args import parse_cli_args, parse_dict_literal

    if file is not None:
        if tokens or args_text:
            raise BadInput("--file cannot be combined with args")
        specs, labels = _read_records(file, "task spec")

        async def go(store: Any) -> Any:
            from ..store.dedup import DuplicateError

            with _name_records(file, labels, r"task (\d+): "):
                try:
                    return await store.submit_batch(specs, dedup=dedup,
                                                    requeue_failed=requeue_failed)
                except DuplicateError as exc:
                    return exc

        out = report_outcome(run(app, go), quiet)
        for task_id in out.ids:
            click.echo(task_id)
        if not quiet:
            click.echo(f"Submitted {len(out.ids)} tasks.", err=True)
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
    out = _fast_submit(app, spec, dedup, requeue_failed)
    if out is None:
        async def one(store: Any) -> Any:
            from ..store.dedup import DuplicateError

            try:
                return await store.submit_batch([spec], dedup=dedup,
                                                requeue_failed=requeue_failed)
            except DuplicateError as exc:
                return exc

        out = run(app, one)
    # one task: the report only when it is a duplicate (the usual output stays one line)
    out = report_outcome(out, quiet, only_duplicates=True)
    if out.ids:
        click.echo(out.ids[0] if quiet else f"Task submitted with ID: {out.ids[0]}")
    elif not quiet and not out.requeued:
        click.echo(f"Not submitted: the task is already present (--dedup {dedup}).", err=True)


def report_outcome(out: Any, quiet: bool, *, only_duplicates: bool = False,
                   label: str = "") -> Any:
    """Report a SubmitOutcome on stderr (the duplicates, then what was requeued; ``label``
    says what was compared); a DuplicateError (``--dedup error``: nothing written) exits 2
    with the report."""
    from ..store.dedup import DuplicateError

    if isinstance(out, DuplicateError):
        raise BadInput(str(out))
    if not quiet:
        if out.duplicates or not only_duplicates:
            click.echo(label + out.report(), err=True)
        if out.requeued:
            n = len(out.requeued)
            click.echo(f"Requeued {n} failed task{'s' * (n != 1)} (undo: labtasker-tui undo).",
                       err=True)
    return out


def _fast_submit(app: AppContext, spec: dict[str, Any], dedup: str, requeue_failed: bool
                 ) -> Any:
    """One task into an existing SQLite file through sqlite3 (None: use the store)."""
    import sqlite3

    from ..errors import UserError
    from ..store.location import sqlite_path

    if requeue_failed:
        return None  # a requeue is journaled: the store's path
    path = sqlite_path(app.url)
    if path is None:
        return None
    from ..store.sqlite_direct import submit_sqlite

    try:
        return submit_sqlite(path, app.queue, [spec], dedup=dedup)
    except UserError as exc:
        from ..store.dedup import DuplicateError

        if isinstance(exc, DuplicateError):
            return exc
        raise BadInput(str(exc)) from None
    except sqlite3.Error as exc:
        from .context import database_error

        raise database_error(str(exc), app.url) from None
