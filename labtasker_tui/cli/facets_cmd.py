"""`facets PATH`: the values of a path with task counts, most common first."""

from __future__ import annotations

import json
from typing import Any

import click

from .context import AppContext, BadInput, pass_app, run
from .selectors import compile_filter, make_selection, selector_options


@click.command(epilog="""
\b
Examples:
  labtasker-tui facets args.model
  labtasker-tui facets metadata.tags -s failed         # array: each element counted
  labtasker-tui facets args.lr -f "args.model == 'vit'"  # numbers: min/max and ranges
  labtasker-tui facets summary.best.acc --format json
  labtasker-tui index add args.model                  # then facets read only the index

\b
Each line's filter is printed with --conditions, ready for -f.
""")
@click.argument("path")
@selector_options
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True,
              help="How many values to show.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--conditions", is_flag=True, help="Show the filter condition of each value.")
@pass_app
def facets(app: AppContext, path: str, task_ids: tuple[str, ...], name: str | None,
           status: str | None, filter_text: str | None, limit: int, fmt: str,
           conditions: bool) -> None:
    """Count the values of PATH (a field or JSON path) among the selected tasks."""
    from ..store.facet_summary import FacetError, parse_facet_path

    try:
        parse_facet_path(path)
    except FacetError as exc:
        raise BadInput(str(exc)) from None
    result = None
    if not (task_ids or name or status or (filter_text and filter_text.strip())):
        result = _fast_facets(app, path, limit)
    if result is None:
        result = _store_facets(app, path, task_ids, name, status, filter_text, limit)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    from ..safe_text import inert_lines

    # labels and conditions are user values: shown with control characters escaped
    click.echo(inert_lines(_table(result, conditions)))


def _store_facets(app: AppContext, path: str, task_ids: tuple[str, ...], name: str | None,
                  status: str | None, filter_text: str | None, limit: int) -> Any:
    """The regular path: the store (SQLAlchemy), any database, any selection."""
    from ..store.facets import facet_counts

    compiled = compile_filter(filter_text)

    async def go(store: Any) -> Any:
        sel = make_selection(store, compiled, task_ids, name, status)
        return await facet_counts(store, path, sel, limit=limit)

    return run(app, go)


def _fast_facets(app: AppContext, path: str, limit: int) -> Any:
    """Every task of the queue on an existing SQLite file, through sqlite3 (None: the store)."""
    import sqlite3

    from ..store.location import sqlite_path

    db = sqlite_path(app.url)
    if db is None:
        return None
    from ..store.sqlite_direct import facets_sqlite

    try:
        return facets_sqlite(db, app.queue, path, limit)
    except sqlite3.Error as exc:
        from .context import database_error

        raise database_error(str(exc), app.url) from None


def _table(f: Any, conditions: bool) -> str:
    from ..store.facet_summary import condition_for

    lines = [f"{f.path}: {f.total:,} task{'s' * (f.total != 1)}, {f.distinct:,} distinct value"
             f"{'s' * (f.distinct != 1)}" + (f", {f.arrays:,} arrays (elements counted)"
                                             if f.arrays else "")]
    from ..safe_text import inert

    # escaped before widths are measured, so columns stay aligned
    rows: list[tuple[str, int, str]] = [(inert(v.label), v.count, inert(
        condition_for(f.path, v)) if conditions else "") for v in f.values]
    if f.other:
        rows.append((f"(other {f.distinct - len(f.values):,})", f.other, ""))
    if f.missing:
        rows.append(("(missing)", f.missing,
                     condition_for(f.path, f.missing_value) if conditions else ""))
    width = min(40, max((len(r[0]) for r in rows), default=5))
    for label, n, cond in rows:
        share = f"{100 * n / f.total:5.1f}%" if f.total else ""
        label = label if len(label) <= width else label[: width - 1] + "…"
        lines.append(f"  {label:<{width}} {n:>12,} {share}" + (f"   {cond}" if cond else ""))
    if f.numeric:
        s = f.numeric
        lines.append(f"numbers: {s.count:,} (min {s.min}, max {s.max}, {s.distinct:,} distinct)")
        for b in s.buckets:
            cond = f"   {condition_for(f.path, b)}" if conditions else ""
            lines.append(f"  {b.label:<{max(width, 24)}} {b.count:>12,}{cond}")
    return "\n".join(lines)
