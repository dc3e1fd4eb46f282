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




