"""The `labtasker-tui` command group. Light imports only: heavy modules load inside commands."""

from __future__ import annotations

import click

from ..settings import default_queue
from .context import AppContext


class LazyGroup(click.Group):
    """Loads each subcommand's module only when that command runs (fast --help and start)."""

    COMMANDS: dict[str, tuple[str, str]] = {
        "init": ("task_cmds", "init"),
        "submit": ("submit_cmd", "submit"),
        "ls": ("ls_cmd", "ls"),
        "update": ("change_cmds", "update"),
        "requeue": ("requeue_cmd", "requeue"),
        "delete": ("change_cmds", "delete"),
        "count": ("task_cmds", "count"),
        "export": ("task_cmds", "export_cmd"),
        "import": ("task_cmds", "import_cmd"),
        "index": ("index_cmd", "index"),
        "loop": ("loop_cmd", "loop"),
        "worker": ("worker_cmd", "worker"),
        "facets": ("facets_cmd", "facets"),
        "results": ("results_cmd", "results"),
        "view": ("view_cmd", "view"),
        "undo": ("undo_cmd", "undo"), "redo": ("undo_cmd", "redo"),
        "keys": ("keys_cmd", "keys"),
        "sweep": ("sweep_cmd", "sweep"),
        "eta": ("eta_cmd", "eta"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in self.COMMANDS if self._load(name) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name)

    def _load(self, name: str) -> click.Command | None:
        target = self.COMMANDS.get(name)
        if target is None:
            return None
        import importlib

        try:
            module = importlib.import_module(f"labtasker_tui.cli.{target[0]}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("labtasker_tui.cli."):
                return None
            raise
        return getattr(module, target[1], None)


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]},
             epilog="""
\b
Quick start:
  labtasker-tui init                       # .labtasker/tasks.db in this folder
  labtasker-tui submit -- --lr 0.1 --model resnet
  labtasker-tui ls -f "args.lr > 0.01"     # the task list (headless with --no-pager)
  labtasker-tui                            # the full-screen app
""")
@click.option("--db", envvar=None, metavar="URL",
              help="Database URL or SQLite path. Default: $LABTASKER_TUI_DB, else the nearest "
                   ".labtasker/tasks.db, else a per-user database.")
@click.option("--queue", default=default_queue,
              show_default="default", metavar="NAME", help="Queue name ($LABTASKER_TUI_QUEUE).")
@click.version_option(package_name="labtasker-tui")
@click.pass_context
def cli(ctx: click.Context, db: str | None, queue: str) -> None:
    """Manage queues of experiment tasks: a full-screen app and headless commands."""
    import re

    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,100}", queue):
        raise click.BadParameter("queue names use letters, digits, '_' and '-'",
                                 param_hint="--queue")
    ctx.obj = AppContext(db=db, queue=queue)
    if ctx.invoked_subcommand not in (None, "loop") and _PROGRAM:
        from .context import exit_on_interrupt

        exit_on_interrupt()
    if ctx.invoked_subcommand is None:
        from ..tui.app import run_app

        ctx.obj.require_database()
        ctx.exit(run_app(ctx.obj.url, queue))


_PROGRAM = False  # True when run as the program (not by in-process tests)


def main() -> None:
    global _PROGRAM
    _PROGRAM = True
    cli(prog_name="labtasker-tui")
