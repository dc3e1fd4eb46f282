"""`index add|ls|drop`: expression indexes on JSON paths that filters and sorts can use."""

from __future__ import annotations

import json
from typing import Any

import click

from .context import AppContext, BadInput, pass_app, run


@click.group(epilog="""
\b
Examples:
  labtasker-tui index add args.lr            # speeds up filters such as args.lr > 0.01
  labtasker-tui index ls
  labtasker-tui index drop args.lr
  labtasker-tui ls -f "args.lr > 0.01" --verbose --no-pager   # shows the SQL it runs
""")
def index() -> None:
    """Manage expression indexes on JSON paths (args.*, metadata.*, summary.*, cmd)."""


def _check_path(path: str) -> None:
    from ..store.indexes import parse_path

    try:
        parse_path(path)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


@index.command("add")
@click.argument("paths", nargs=-1, required=True)
@pass_app
def add(app: AppContext, paths: tuple[str, ...]) -> None:
    """Create an index for each PATH (one transaction; existing ones are kept)."""
    for p in paths:
        _check_path(p)

    async def go(store: Any) -> list[str]:
        from ..store.indexes import add_indexes

        return await add_indexes(store, paths)

    try:
        names = run(app, go)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    for p, name in zip(paths, names, strict=True):
        click.echo(f"Index {name} on {p} ready.")


@index.command("ls")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def ls(app: AppContext, fmt: str) -> None:
    """List JSON-path indexes."""

    async def go(store: Any) -> list[dict[str, Any]]:
        from ..store.indexes import list_store_indexes

        return await list_store_indexes(store)

    rows = run(app, go)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['path'] or '?':<30} {r['name']}")


@index.command("drop")
@click.argument("path_or_name")
@pass_app
def drop(app: AppContext, path_or_name: str) -> None:
    """Drop the index of a path (or an index by name)."""
    if not path_or_name.startswith("ix_json_"):
        _check_path(path_or_name)

    async def go(store: Any) -> bool:
        from ..store.indexes import drop_store_index

        return await drop_store_index(store, path_or_name)

    if not run(app, go):
        raise BadInput(f"no index for {path_or_name!r} (see: labtasker-tui index ls)")
    click.echo(f"Dropped the index on {path_or_name}.")
