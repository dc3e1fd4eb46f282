"""`view save|ls|rm`: saved views shared through the database."""

from __future__ import annotations

import json
from typing import Any

import click

from .context import AppContext, pass_app, pass_app_creating, run
from .selectors import compile_filter, parse_sort


@click.group(epilog="""
\b
Examples:
  labtasker-tui view save vit-failed -f "args.model == 'vit' and status == 'failed'" \\
      -S summary.acc:desc --columns args.lr,summary.acc
  labtasker-tui view ls
  labtasker-tui ls --view vit-failed --no-pager
  labtasker-tui view rm vit-failed
""")
def view() -> None:
    """Saved views: a name plus filter, sort and extra columns, shared by every machine."""


@view.command("save")
@click.argument("name")
@click.option("-f", "--extra-filter", "filter_text", default="", help="Filter, either syntax.")
@click.option("-S", "--sort", "sort", multiple=True, metavar="KEY",
              help="Sort key: -summary.acc or summary.acc:desc (repeatable).")
@click.option("--columns", default="",
              help="Extra columns by path, comma separated (bare names are args paths).")
@click.option("--force/--no-force", default=True, show_default=True,
              help="Replace a view of the same name.")
@pass_app_creating
def save(app: AppContext, name: str, filter_text: str, sort: tuple[str, ...], columns: str,
         force: bool) -> None:
    """Save (or replace) a view."""
    from ..store.views import View, save_view

    sort_keys = parse_sort(sort)
    compile_filter(filter_text)
    from .ls_cmd import _parse_columns

    cols = _parse_columns(columns, "--columns")
    v = View(name=name, filter=filter_text, sort=sort_keys, columns=cols)
    replaced = run(app, lambda store: save_view(store, v, overwrite=force))
    click.echo(f"{'Replaced' if replaced else 'Saved'} view {name!r}.")


@view.command("ls")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def ls(app: AppContext, fmt: str) -> None:
    """List saved views."""
    from ..store.views import list_views

    views = run(app, list_views)
    if fmt == "json":
        click.echo(json.dumps([v.as_dict() for v in views], ensure_ascii=False))
        return
    for v in views:
        d: dict[str, Any] = v.as_dict()
        extra = ""
        if d["sort"]:
            extra += "  sort " + ",".join(d["sort"])
        if d["columns"]:
            extra += "  columns " + ",".join(d["columns"])
        click.echo(f"{v.name:<20} {v.filter or '(all tasks)'}{extra}")


@view.command("rm")
@click.argument("name")
@pass_app
def rm(app: AppContext, name: str) -> None:
    """Delete a saved view."""
    from ..store.views import delete_view

    run(app, lambda store: delete_view(store, name))
    click.echo(f"Deleted view {name!r}.")
