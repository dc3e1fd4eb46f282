"""Selector options shared by ls, update, delete, count and export (AND-ed with the filter)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..lifecycle import STATUSES
from .context import BadInput

if TYPE_CHECKING:
    from ..store.task_store import Selection, TaskStore



def selector_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("-f", "--extra-filter", "filter_text", metavar="FILTER",
                      callback=_filter_file,
                      help="Filter in Python syntax (args.lr > 0.01) or Mongo syntax "
                           "('{\"args.lr\": {\"$gt\": 0.01}}'); @FILE reads it from a file "
                           "(for filters longer than a command line allows).")(fn)
    fn = click.option("-s", "--status", type=click.Choice(STATUSES), help="Only this status.")(fn)
    fn = click.option("--name", "--task-name", "name", help="Only tasks with this exact name.")(fn)
    fn = click.option("--id", "--task-id", "task_ids", multiple=True, metavar="ID",
                      help="Only this task id, or a unique prefix of it (at least 4"
                           " characters; repeatable).")(fn)
    return fn


def _filter_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``-f @path``: the filter text from a file (no filter in either syntax starts with @)."""
    if value is None or not value.startswith("@"):
        return value
    path = value[1:]
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the filter file {path!r}: {exc}") from None


def parse_sort(values: tuple[str, ...]) -> list[tuple[str, bool]]:
    """``-S`` values in the one sort syntax (labtasker_tui/sorting.py): ``-summary.acc`` or
    ``summary.acc:desc``; a bad key prints the caret display and exits 2."""
    from ..sorting import SortError, parse_sort_options
    from .context import translate_errors

    try:
        return parse_sort_options(values)
    except SortError as exc:
        raise translate_errors(exc) from None  # type: ignore[misc]


def resolve_task_ids(app: Any, ids: tuple[str, ...] | list[str]) -> list[str]:
    """Ids as given, with unique prefixes (at least 4 characters, as the tables show 8)
    expanded to whole ids; an ambiguous or too short prefix exits 2 naming candidates. Full
    ids need no database round trip."""
    ids = list(ids)
    if all(len(x.strip()) == 36 for x in ids):
        return ids
    from .context import run

    return run(app, lambda store: store.resolve_id_prefixes(ids))


def compile_filter(filter_text: str | None) -> Any:
    """Parse -f text (errors print the caret display and exit 2); None for no filter."""
    if filter_text is None or not filter_text.strip():
        return None
    from ..query import parse_filter
    from .context import translate_errors

    try:
        return parse_filter(filter_text)
    except Exception as exc:
        mapped = translate_errors(exc)
        if mapped is None:
            raise
        raise mapped from None


def make_selection(store: TaskStore, compiled: Any, task_ids: tuple[str, ...] | list[str],
                   name: str | None, status: str | None, verbose: bool = False) -> Selection:
    from ..store.task_store import Selection

    where = None
    if compiled is not None:
        from ..query import filter_to_sql

        where = filter_to_sql(compiled, store.dialect)
        if verbose:
            click.echo("Parsed filter: " + json.dumps(compiled.mongo, default=str,
                                                      ensure_ascii=False), err=True)
            try:
                from sqlalchemy.dialects import postgresql, sqlite

                dialect = sqlite.dialect() if store.dialect == "sqlite" else postgresql.dialect()
                click.echo("SQL where: " + str(where.compile(dialect=dialect)), err=True)
            except Exception as exc:  # noqa: BLE001 - diagnostics only
                click.echo(f"SQL where: (could not render: {exc})", err=True)
    return Selection(ids=list(task_ids) if task_ids else None, name=name, status=status,
                     where=where)


def confirm_or_refuse(question: str, yes: bool) -> None:
    """Ask on a TTY; refuse (exit 2, nothing changed) when no one can answer."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise BadInput(f"{question} Refusing without --yes (stdin is not a terminal).")
    if not click.confirm(question, default=False, err=True):
        click.echo("Aborted; nothing changed.", err=True)
        raise SystemExit(1)
