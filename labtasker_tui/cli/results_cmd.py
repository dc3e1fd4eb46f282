"""`results`: the selected tasks grouped by swept parameters, with per-group statistics."""

from __future__ import annotations

import json
from typing import Any

import click

from .context import AppContext, BadInput, guard_pipe, pass_app, run
from .selectors import compile_filter, make_selection, resolve_task_ids, selector_options


def split_paths(values: tuple[str, ...]) -> list[str] | None:
    """Repeatable, comma-separated path options -> a list (None when not given)."""
    if not values:
        return None
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


@click.command(epilog="""
\b
Examples:
  labtasker-tui results                                  # every varying args path
  labtasker-tui results -f "metadata.sweep == 'grid1'" --metric summary.acc
  labtasker-tui results --by args.lr,args.model --over args.seed --format csv > r.csv
  labtasker-tui results --sort -summary.acc:mean         # best mean first
  labtasker-tui results --metric summary.loss --best min

\b
Groups: by default every args path whose value differs within the filter, except
seed-like names (seed, seeds, rng, random_state, random_seed, seed_*, *_seed, rng_*,
*_rng), which results are averaged over; --over names them instead, --by names the
groups. 1 and 1.0 are one group; "1" and true are others; a task without the path is
in the (missing) group. Metrics: every numeric summary path unless --metric.
Per metric: n counts finite numbers; NaN/Infinity strings, missing/null and other
values (strings, booleans, lists) are counted apart and left out; std is the sample
standard deviation (n - 1). Columns for --sort: a --by path, tasks, a status, or
METRIC:n|mean|std|min|max|best|missing|nonfinite|other (a leading - sorts descending).
""")
@selector_options
@click.option("--by", "by", multiple=True, metavar="PATHS",
              help="Group by these paths (comma separated, repeatable).")
@click.option("--over", "over", multiple=True, metavar="PATHS",
              help="Average over these paths (default: the seed-like args paths).")
@click.option("--metric", "metric", multiple=True, metavar="PATHS",
              help="Metric paths (default: every numeric summary path).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--sort", "sort", metavar="COLUMN", help="Sort the groups by a column.")
@click.option("--best", "best", type=click.Choice(["max", "min"]), default=None,
              help="Which task is best: the highest value (default) or the lowest.")
@click.option("--minimize", is_flag=True, help="Same as --best min.")
@pass_app
def results(app: AppContext, task_ids: tuple[str, ...], name: str | None, status: str | None,
            filter_text: str | None, by: tuple[str, ...], over: tuple[str, ...],
            metric: tuple[str, ...], fmt: str, sort: str | None, best: str | None,
            minimize: bool) -> None:
    """Group the selected tasks by swept parameters: counts by status, and mean ± std, min,
    max and the best task of each numeric metric."""
    from ..results_model import check_column, sort_groups
    from ..store.results import ResultsError, compute_results, parse_paths

    if minimize and best == "max":
        raise BadInput("--minimize contradicts --best max")
    mode = "min" if minimize else (best or "max")
    by_paths, over_paths, metric_paths = split_paths(by), split_paths(over), split_paths(metric)
    try:  # paths are checked before the database is opened
        for paths, what, json_only in ((by_paths, "--by", False), (over_paths, "--over", False),
                                       (metric_paths, "--metric", True)):
            if paths is not None:
                parse_paths(paths, what, json_only=json_only)
    except ResultsError as exc:
        raise BadInput(exc.user_message) from None
    compiled = compile_filter(filter_text)
    task_ids = tuple(resolve_task_ids(app, task_ids))

    async def go(store: Any) -> Any:
        sel = make_selection(store, compiled, task_ids, name, status)
        return await compute_results(store, sel, by=by_paths, over=over_paths,
                                     metrics=metric_paths, best=mode)

    res = run(app, go)
    column, descending = None, False
    if sort:
        descending = sort.startswith("-")
        column = sort[1:] if descending else sort
        if column.endswith(":desc") or column.endswith(":asc"):
            column, _, direction = column.rpartition(":")
            descending = direction == "desc"
        try:
            check_column(res, column)
        except ValueError as exc:
            raise BadInput(f"--sort: {exc}") from None
    groups = sort_groups(res, column, descending=descending)
    if fmt == "json":
        data = res.as_dict()
        order = {id(g): i for i, g in enumerate(res.groups)}
        data["groups"] = [data["groups"][order[id(g)]] for g in groups]
        guard_pipe(lambda: click.echo(json.dumps(data, ensure_ascii=False)))
    elif fmt == "csv":
        guard_pipe(lambda: click.echo(csv_text(res, groups), nl=False))
    else:
        guard_pipe(lambda: click.echo(table_text(res, groups)))


def csv_text(res: Any, groups: list[Any]) -> str:
    import csv
    import io

    from ..results_model import cell, column_names
    from ..results_model import csv_text as cell_csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = column_names(res)
    writer.writerow(names)
    for g in groups:
        writer.writerow([cell_csv(cell(res, g, c)) for c in names])
    return buf.getvalue()


def table_text(res: Any, groups: list[Any]) -> str:
    """An aligned text table (values made inert: control characters escaped)."""
    from ..results_model import cell_text, column_label, column_names, excluded_text
    from ..safe_text import inert

    names = column_names(res, shown=True)
    head = [inert(column_label(res, c)) for c in names]
    rows = [[inert(cell_text(res, g, c)) for c in names] for g in groups]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]
    numeric = [c not in res.by for c in names]

    def line(cells: list[str]) -> str:
        return "  ".join((c.rjust(w) if num else c.ljust(w))
                         for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    total = res.total
    title = [f"{total:,} task{'s' * (total != 1)} in {len(groups):,} group"
             f"{'s' * (len(groups) != 1)}"]
    title.append("by " + (", ".join(res.by) if res.by else "(nothing: one group)"))
    if res.over:
        title.append("over " + ", ".join(res.over))
    if res.metrics:
        title.append(f"best = {res.best}")
    out = [inert(" · ".join(title)), line(head), *(line(r) for r in rows)]
    out += [inert(x) for x in excluded_text(res)]
    if not res.metrics:
        out.append("no numeric summary metric in these tasks (name one with --metric)")
    return "\n".join(out)
